// The platform's security and operational defaults, in one place. A change here
// reaches every team's output on the next render.
{
  app: {
    replicas: 2,
    runAsUser: 10001,
    protocol: 'http',
    probe: { periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 2 },
    revisionHistoryLimit: 5,
    terminationGracePeriodSeconds: 30,
    // emptyDir size limit for each declared writable path, in MiB.
    writableSizeLimitMi: 256,
    // Ephemeral storage of every container, in MiB: what the app itself writes
    // outside its writable paths (its logs, which the kubelet rotates at 10Mi by five
    // files, and a read-only root filesystem's writable layer). The request and the
    // limit are this plus every writable path's size limit, so the kubelet evicts a
    // pod that fills its emptyDirs or logs beyond them and the scheduler places it on
    // a node with the room. resources.ephemeralStorage in the spec may only raise it.
    ephemeralStorageMi: 128,
    // The readiness probe of an app that declares none: a TCP connect to its port.
    tcpReadiness: { periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 2 },
  },
  cluster: {
    fluxNamespace: 'flux-system',
    rootKustomization: 'flux-system',
    branch: 'main',
    interval: '10m',
    // Timeout for a tenant's Flux Kustomization (wait for health).
    tenantTimeout: '5m',
  },
  // The ClusterRole every team's Flux reconciler is bound to, inside its namespace only.
  tenantReconcilerRole: 'rampart:tenant-reconciler',
  tenantReconcilerServiceAccount: 'flux-reconciler',
  // The label Rampart puts on every team namespace (value: the team's name); the
  // platform selects team namespaces by it.
  teamLabel: 'rampart.dev/team',
  // The Kyverno GeneratingPolicy that clones the cluster's Git credential into every
  // team namespace, and the ClusterRole that lets Kyverno's background controller do
  // it (lib/gitcredential.libsonnet).
  gitCredential: {
    policyName: 'rampart-flux-git-credential',
    kyvernoRole: 'rampart:kyverno:flux-git-credential',
  },
  // Roles for people (lib/people.libsonnet), Rampart's own ClusterRoles in
  // platform/rbac.yaml, bound in each team's namespace to the team's groups: the
  // viewer on production (changes go through Git), the developer elsewhere.
  peopleRoles: { viewer: 'rampart:viewer', developer: 'rampart:developer' },
  groupRole(environment):: if environment == 'production' then $.peopleRoles.viewer else $.peopleRoles.developer,
  // The node's cloud metadata endpoint (instance metadata, managed identity tokens):
  // no team pod reaches it (lib/network.libsonnet).
  cloudMetadata: { address: '169.254.169.254', policyName: 'rampart-deny-cloud-metadata' },
  // Workload identity (lib/identity.libsonnet): the Entra ID authority host an app
  // with an Azure identity exchanges its ServiceAccount token at, on 443.
  identity: { azure: { authorityHost: 'login.microsoftonline.com' } },
  // Quarantine (lib/quarantine.libsonnet): every allow Rampart renders selects only
  // pods without this label, so `kubectl label pod … rampart.dev/quarantine=true`
  // cuts a pod off at once; a quarantined app's Deployment carries the annotation
  // (its reason and ticket), which `rampart reach` reports.
  quarantine: { label: 'rampart.dev/quarantine', annotation: 'rampart.dev/quarantine' },
  // Mesh (lib/mesh.libsonnet): where Istio lives and its SPIFFE trust domain.
  mesh: { rootNamespace: 'istio-system', trustDomain: 'cluster.local' },
  // Linkerd (lib/linkerd.libsonnet): its control plane's namespace (mesh.rootNamespace
  // in cluster.yaml overrides it).
  linkerd: { namespace: 'linkerd' },
  // Calico (lib/calico.libsonnet): the order of the platform's first
  // GlobalNetworkPolicy in Calico's kube-admin tier.
  calico: { order: 100 },
  // Ingress and TLS (lib/ingress.libsonnet). The HSTS and referrer-policy defaults and
  // the certificate duration, like the reconciler's role and service account and
  // the mesh's, have Go copies in generator/internal/defaults (its test keeps them
  // equal) for the loader's "may not loosen" checks, reach and verify.
  ingress: {
    entryPoints: { web: 'web', websecure: 'websecure' },
    // Ingress class of the Ingress cert-manager creates for an HTTP-01 challenge.
    ingressClass: 'traefik',
    // Key of the Cloudflare API token in the DNS-01 solver's Secret.
    cloudflareTokenKey: 'api-token',
    paths: ['/'],
    rateLimit: { period: '1s', ipv6Subnet: 64 },
    headers: { hstsMaxAgeSeconds: 31536000, referrerPolicy: 'strict-origin-when-cross-origin' },
    certificate: {
      duration: '2160h',
      renewBefore: '720h',
      privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
    },
  },
  // Runtime detection (lib/runtime.libsonnet): each environment's minimum priority
  // of Rampart's Falco rules, and the cluster DNS domain Services are named in.
  runtime: {
    minimumPriority: { production: 'CRITICAL', staging: 'WARNING', development: 'NOTICE' },
    clusterDomain: 'cluster.local',
  },
}
