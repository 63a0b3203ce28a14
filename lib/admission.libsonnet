// Admission policy: the cluster refuses at the API server what the render would never
// produce, whatever bypasses the render (a person with access, a compromised
// reconciler, a chart applied by hand). The platform layer renders Kyverno
// ValidatingPolicies (policies.kyverno.io/v1, CEL) into platform/admission.yaml:
//   - scoped to the team namespaces by the label Rampart puts on each (teamLabel), so
//     a platform namespace is never judged by a team policy;
//   - written for Pods; Kyverno generates the same checks for the pod controllers
//     (autogen), so a Deployment is refused before its ReplicaSet is made;
//   - validationActions [Deny] on production and [Audit] elsewhere (policy.mode in
//     cluster.yaml overrides), with background evaluation on, so existing objects get
//     policy reports;
//   - every check is a rule with a name, and its message says whose pod it is, what is
//     wrong, what to change in the team's spec, and which policy and rule an
//     exception would name.
// An ImageValidatingPolicy requires signatures on the images of the registries
// cluster.yaml names trusted signers for (none without them).
//
// Exceptions come only from spec.exceptions.policies: each is a Kyverno
// PolicyException in the team's tenant file (applied by the cluster's reconciler; the
// team's reconciler may not manage PolicyExceptions), matching exactly the named apps,
// expiring at the end of its last day (UTC). An exception that names rules lists them
// in allowedValues, and each rule's expression yields to its own name there; one that
// names none exempts the apps from the whole policy. Kyverno 1.19 honours expiresAt at
// admission only, so expiry is Rampart's: the loader marks an expired exception and it
// is not rendered.
//
// generator/internal/defaults holds a Go copy of the catalogue (policy and rule names)
// for the loader's checks of spec.exceptions.policies; its test keeps them equal.
local d = import 'defaults.libsonnet';
local enforcement = import 'enforcement.libsonnet';
local k = import 'k.libsonnet';

local get = k.get;

// lit is a CEL string literal (JSON's escapes are CEL's).
local lit(s) = std.escapeStringJson(s);
local list(xs) = '[' + std.join(', ', [lit(x) for x in xs]) + ']';

local labels = { 'app.kubernetes.io/managed-by': 'rampart' };

// The pod controllers Kyverno generates each pod policy for.
local podControllers = ['cronjobs', 'daemonsets', 'deployments', 'jobs', 'replicasets', 'statefulsets'];

// The kinds an exception of a pod policy matches for each named app: its Deployment,
// the Deployment's ReplicaSets and their Pods.
local podKinds = ['Deployment', 'ReplicaSet', 'Pod'];

// Variables every policy's messages use. Autogen rewrites object.metadata and
// object.spec to the pod template's, except object.metadata.namespace, which stays
// the controller's own; object["metadata"] is not rewritten either, so a pod without
// the app label is named after itself, and a controller after the controller.
local teamVariable = { name: 'team', expression: 'has(object.metadata.namespace) ? object.metadata.namespace : ""' };
local podVariables = [
  teamVariable,
  { name: 'app', expression: 'object.metadata.?labels[?"app.kubernetes.io/name"].orValue(object["metadata"].?name.orValue(object["metadata"].?generateName.orValue("")))' },
  { name: 'containers', expression: 'object.spec.containers + object.spec.?initContainers.orValue([]) + object.spec.?ephemeralContainers.orValue([])' },
];

// names joins the names of a CEL list of objects, for a message.
local names(xs) = xs + '.map(x, x.name).join(", ")';

// The restricted Pod Security level, control by control: what k8s.io/pod-security-
// admission checks, which the render runs on every pod template (generator/verify) and
// the team namespaces enforce too. As admission policy it also holds where a
// namespace's labels were changed, and its reports say which control failed.
local pssFix = 'pods run at the restricted Pod Security level, which the spec cannot loosen: remove it from the chart or patch that sets it';
local seLinuxOK(o) = '(!has(' + o + '.type) || ' + o + '.type in ["", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"]) && !has(' + o + '.user) && !has(' + o + '.role)';
local safeSysctls = [
  'kernel.shm_rmid_forced',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.ip_local_reserved_ports',
  'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.ping_group_range',
  'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl',
  'net.ipv4.tcp_keepalive_probes',
  'net.ipv4.tcp_keepalive_time',
  'net.ipv4.tcp_syncookies',
];

local podSecurity = {
  name: 'rampart-pod-security',
  kind: 'ValidatingPolicy',
  title: 'Pod Security restricted',
  description: 'Pods in team namespaces meet every control of the restricted Pod Security Standard: no host namespaces, privileged or HostProcess containers, host paths, other volume types or host ports; all capabilities dropped (NET_BIND_SERVICE may be added), no privilege escalation, non-root with a non-zero user, the RuntimeDefault or a Localhost seccomp and AppArmor profile, the default /proc mount, only safe sysctls and the allowed SELinux options. Rampart renders every pod this way.',
  resource: 'pods',
  autogen: true,
  exceptionKinds: podKinds,
  variables: podVariables,
  rules: [
    {
      name: 'host-namespaces',
      message: "the pod shares the node's network, process or IPC namespace",
      check: '!object.spec.?hostNetwork.orValue(false) && !object.spec.?hostPID.orValue(false) && !object.spec.?hostIPC.orValue(false)',
      problem: '"the pod shares the node\'s network, process or IPC namespace (hostNetwork, hostPID or hostIPC)"',
      fix: pssFix,
    },
    {
      name: 'privileged',
      message: 'a container runs privileged or as a Windows HostProcess',
      variables: [{
        name: 'privileged',
        expression: 'variables.containers.filter(c, c.?securityContext.?privileged.orValue(false) || c.?securityContext.?windowsOptions.?hostProcess.orValue(false))',
      }],
      check: 'size(variables.privileged) == 0 && !object.spec.?securityContext.?windowsOptions.?hostProcess.orValue(false)',
      problem: '"privileged or HostProcess containers (" + ' + names('variables.privileged') + ' + ")"',
      fix: pssFix,
    },
    {
      name: 'capabilities',
      message: 'a container keeps capabilities: drop ALL; only NET_BIND_SERVICE may be added',
      variables: [{
        name: 'capabilities',
        expression: 'variables.containers.filter(c, !("ALL" in c.?securityContext.?capabilities.?drop.orValue([])) || c.?securityContext.?capabilities.?add.orValue([]).exists(a, a != "NET_BIND_SERVICE"))',
      }],
      check: 'size(variables.capabilities) == 0',
      problem: '"containers " + ' + names('variables.capabilities') + ' + " do not drop ALL capabilities, or add one other than NET_BIND_SERVICE"',
      fix: pssFix,
    },
    {
      name: 'host-path',
      message: 'a volume mounts a directory of the node (hostPath)',
      variables: [{ name: 'hostPaths', expression: 'object.spec.?volumes.orValue([]).filter(v, has(v.hostPath))' }],
      check: 'size(variables.hostPaths) == 0',
      problem: '"volumes " + ' + names('variables.hostPaths') + ' + " mount a directory of the node (hostPath)"',
      fix: 'declare writablePaths for the app for scratch space (an emptyDir each)',
    },
    {
      name: 'volume-types',
      message: 'a volume is of a type the restricted level does not allow',
      variables: [{
        name: 'volumeTypes',
        expression: 'object.spec.?volumes.orValue([]).filter(v, !(has(v.configMap) || has(v.csi) || has(v.downwardAPI) || has(v.emptyDir) || has(v.ephemeral) || has(v.persistentVolumeClaim) || has(v.projected) || has(v.secret)))',
      }],
      check: 'size(variables.volumeTypes) == 0',
      problem: '"volumes " + ' + names('variables.volumeTypes') + ' + " are of a type other than configMap, csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim, projected or secret"',
      fix: pssFix,
    },
    {
      name: 'host-ports',
      message: 'a container binds a port of the node (hostPort)',
      variables: [{ name: 'hostPorts', expression: 'variables.containers.filter(c, c.?ports.orValue([]).exists(p, p.?hostPort.orValue(0) != 0))' }],
      check: 'size(variables.hostPorts) == 0',
      problem: '"containers " + ' + names('variables.hostPorts') + ' + " bind a port of the node (hostPort)"',
      fix: 'expose the app with expose.hosts (through the ingress controller) or let other apps call it with calls and allowCallsFrom',
    },
    {
      name: 'privilege-escalation',
      message: 'a container does not set allowPrivilegeEscalation: false',
      variables: [{ name: 'escalation', expression: 'variables.containers.filter(c, c.?securityContext.?allowPrivilegeEscalation.orValue(true) != false)' }],
      check: 'size(variables.escalation) == 0',
      problem: '"containers " + ' + names('variables.escalation') + ' + " do not set allowPrivilegeEscalation: false"',
      fix: pssFix,
    },
    {
      name: 'run-as-non-root',
      message: 'a container may run as root (runAsNonRoot is not true)',
      variables: [{
        name: 'mayRunAsRoot',
        expression: 'variables.containers.filter(c, !c.?securityContext.?runAsNonRoot.orValue(object.spec.?securityContext.?runAsNonRoot.orValue(false)))',
      }],
      check: 'size(variables.mayRunAsRoot) == 0',
      problem: '"containers " + ' + names('variables.mayRunAsRoot') + ' + " may run as root (runAsNonRoot is not true)"',
      fix: 'apps run as a non-root user: set runAsUser (non-zero) for the app, or keep the default 10001',
    },
    {
      name: 'run-as-user',
      message: 'the pod or a container runs as user 0 (root)',
      variables: [{ name: 'rootUser', expression: 'variables.containers.filter(c, c.?securityContext.?runAsUser.orValue(1) == 0)' }],
      check: 'object.spec.?securityContext.?runAsUser.orValue(1) != 0 && size(variables.rootUser) == 0',
      problem: '"the pod or its containers (" + ' + names('variables.rootUser') + ' + ") run as user 0 (root)"',
      fix: 'apps run as a non-root user: set runAsUser (non-zero) for the app, or keep the default 10001',
    },
    {
      name: 'seccomp',
      message: 'a container runs without the RuntimeDefault or a Localhost seccomp profile',
      variables: [
        { name: 'podSeccomp', expression: 'object.spec.?securityContext.?seccompProfile.?type.orValue("")' },
        { name: 'seccomp', expression: 'variables.containers.filter(c, !(c.?securityContext.?seccompProfile.?type.orValue(variables.podSeccomp) in ["RuntimeDefault", "Localhost"]))' },
      ],
      check: '(variables.podSeccomp == "" || variables.podSeccomp in ["RuntimeDefault", "Localhost"]) && size(variables.seccomp) == 0',
      problem: '"the pod or its containers (" + ' + names('variables.seccomp') + ' + ") run without the RuntimeDefault or a Localhost seccomp profile"',
      fix: pssFix,
    },
    {
      name: 'proc-mount',
      message: 'a container unmasks /proc (procMount is not Default)',
      variables: [{ name: 'procMount', expression: 'variables.containers.filter(c, c.?securityContext.?procMount.orValue("Default") != "Default")' }],
      check: 'size(variables.procMount) == 0',
      problem: '"containers " + ' + names('variables.procMount') + ' + " unmask /proc (procMount is not Default)"',
      fix: pssFix,
    },
    {
      name: 'sysctls',
      message: 'the pod sets a sysctl outside the safe set',
      variables: [{ name: 'sysctls', expression: 'object.spec.?securityContext.?sysctls.orValue([]).filter(s, !(s.name in ' + list(safeSysctls) + '))' }],
      check: 'size(variables.sysctls) == 0',
      problem: '"the pod sets sysctls outside the safe set (" + ' + names('variables.sysctls') + ' + ")"',
      fix: pssFix,
    },
    {
      name: 'apparmor',
      message: 'the pod or a container runs unconfined by AppArmor',
      variables: [
        { name: 'appArmor', expression: 'variables.containers.filter(c, !(c.?securityContext.?appArmorProfile.?type.orValue("RuntimeDefault") in ["RuntimeDefault", "Localhost"]))' },
        {
          name: 'appArmorAnnotations',
          expression: 'object.metadata.?annotations.orValue({}).filter(k, k.startsWith("container.apparmor.security.beta.kubernetes.io/") && !(object.metadata.annotations[k] == "runtime/default" || object.metadata.annotations[k].startsWith("localhost/")))',
        },
      ],
      check: 'object.spec.?securityContext.?appArmorProfile.?type.orValue("RuntimeDefault") in ["RuntimeDefault", "Localhost"] && size(variables.appArmor) == 0 && size(variables.appArmorAnnotations) == 0',
      problem: '"the pod or its containers (" + ' + names('variables.appArmor') + ' + ") run with an AppArmor profile other than RuntimeDefault or Localhost"',
      fix: pssFix,
    },
    {
      name: 'selinux',
      message: 'the pod or a container sets SELinux options the restricted level does not allow',
      variables: [{
        name: 'seLinux',
        expression: 'variables.containers.filter(c, has(c.securityContext) && has(c.securityContext.seLinuxOptions) && !(' + seLinuxOK('c.securityContext.seLinuxOptions') + '))',
      }],
      check: '(!has(object.spec.securityContext) || !has(object.spec.securityContext.seLinuxOptions) || (' + seLinuxOK('object.spec.securityContext.seLinuxOptions') + ')) && size(variables.seLinux) == 0',
      problem: '"the pod or its containers (" + ' + names('variables.seLinux') + ' + ") set an SELinux user, role or type the restricted level does not allow"',
      fix: pssFix,
    },
  ],
};

local resources = {
  name: 'rampart-resources',
  kind: 'ValidatingPolicy',
  title: 'Memory and ephemeral-storage requests and limits',
  description: 'Every container in a team namespace requests memory and ephemeral storage and is limited to them, so the scheduler places pods by what they use and one app cannot starve its node of memory or disk. Rampart sets memory from resources.memory in the team spec, and ephemeral storage from resources.ephemeralStorage (default 128Mi) plus every writable path.',
  resource: 'pods',
  autogen: true,
  exceptionKinds: podKinds,
  variables: podVariables,
  rules: [
    {
      name: 'memory',
      message: 'a container has no memory request or no memory limit',
      variables: [{
        name: 'noMemory',
        expression: '(object.spec.containers + object.spec.?initContainers.orValue([])).filter(c, !(has(c.resources) && has(c.resources.requests) && has(c.resources.requests.memory) && has(c.resources.limits) && has(c.resources.limits.memory)))',
      }],
      check: 'size(variables.noMemory) == 0',
      problem: '"containers " + ' + names('variables.noMemory') + ' + " have no memory request or no memory limit"',
      fix: 'set resources.memory for the app: Rampart sets the request and the limit from it',
    },
    {
      name: 'ephemeral-storage',
      message: 'a container has no ephemeral-storage request or no ephemeral-storage limit',
      variables: [{
        name: 'noEphemeralStorage',
        expression: '(object.spec.containers + object.spec.?initContainers.orValue([])).filter(c, !(has(c.resources) && has(c.resources.requests) && ("ephemeral-storage" in c.resources.requests) && has(c.resources.limits) && ("ephemeral-storage" in c.resources.limits)))',
      }],
      check: 'size(variables.noEphemeralStorage) == 0',
      problem: '"containers " + ' + names('variables.noEphemeralStorage') + ' + " have no ephemeral-storage request or no ephemeral-storage limit"',
      fix: 'Rampart sets both for every app (raise them with resources.ephemeralStorage); a chart or patch must set resources.requests and resources.limits ephemeral-storage on every container',
    },
  ],
};

local images(cluster) = {
  local registries = get(get(cluster.spec, 'policy', {}), 'allowedRegistries', []),
  name: 'rampart-images',
  kind: 'ValidatingPolicy',
  title: 'Images from allowed registries, pinned by digest',
  description: 'Every container in a team namespace runs an image from one of the registries the cluster allows (policy.allowedRegistries in cluster.yaml), never tagged latest, and pinned by digest, so what runs is what was scanned. Rampart resolves every image to a digest and scans it before it renders.',
  resource: 'pods',
  autogen: true,
  exceptionKinds: podKinds,
  variables: podVariables,
  rules: [
    {
      name: 'allowed-registries',
      enabled: std.length(registries) > 0,
      message: 'an image is not from a registry the cluster allows',
      variables: [{ name: 'foreign', expression: 'variables.containers.filter(c, !' + list(registries) + '.exists(r, c.image.startsWith(r)))' }],
      check: 'size(variables.foreign) == 0',
      problem: '"images " + variables.foreign.map(c, c.image).join(", ") + " are not from an allowed registry (' + std.join(', ', registries) + ')"',
      fix: 'use an image from an allowed registry in the app\'s image',
    },
    {
      name: 'latest-tag',
      message: 'an image is tagged latest',
      variables: [{ name: 'latest', expression: 'variables.containers.filter(c, c.image.split("@")[0].endsWith(":latest"))' }],
      check: 'size(variables.latest) == 0',
      problem: '"images " + variables.latest.map(c, c.image).join(", ") + " are tagged latest, which moves"',
      fix: "set a version tag or a digest in the app's image",
    },
    {
      name: 'digest',
      message: 'an image is not pinned by digest',
      variables: [{ name: 'unpinned', expression: 'variables.containers.filter(c, !c.image.contains("@sha256:"))' }],
      check: 'size(variables.unpinned) == 0',
      problem: '"images " + variables.unpinned.map(c, c.image).join(", ") + " are not pinned by digest"',
      fix: 'Rampart pins images on render',
    },
  ],
};

local serviceAccountToken = {
  name: 'rampart-service-account-token',
  kind: 'ValidatingPolicy',
  title: 'No service account token in pods',
  description: 'Pods in team namespaces do not mount a Kubernetes API token (automountServiceAccountToken: false): apps do not talk to the API server, and a token in a compromised pod is a way into the cluster. Rampart renders every app this way.',
  resource: 'pods',
  autogen: true,
  exceptionKinds: podKinds,
  variables: podVariables,
  rules: [{
    name: 'automount',
    message: 'the pod mounts a service account token',
    check: 'object.spec.?automountServiceAccountToken.orValue(true) == false',
    problem: '"the pod mounts a Kubernetes API token (automountServiceAccountToken is not false)"',
    fix: 'apps get no API token: set automountServiceAccountToken: false in the chart or patch that renders the pod',
  }],
};

local serviceTypes = {
  name: 'rampart-service-types',
  kind: 'ValidatingPolicy',
  title: 'No NodePort or LoadBalancer Services',
  description: 'Services in team namespaces are of type ClusterIP (or ExternalName): traffic from outside the cluster goes through the ingress controller, with TLS, rate limits and security headers, never straight to a node port or a cloud load balancer.',
  resource: 'services',
  autogen: false,
  exceptionKinds: ['Service'],
  variables: [teamVariable, { name: 'app', expression: 'object.metadata.name' }],
  rules: [{
    name: 'type',
    message: 'the Service is of type NodePort or LoadBalancer',
    check: '!(object.spec.?type.orValue("ClusterIP") in ["NodePort", "LoadBalancer"])',
    problem: '"Service " + object.metadata.name + " is of type " + object.spec.type',
    fix: 'traffic from outside reaches apps through the ingress controller: expose the app with expose.hosts',
  }],
};

local tokenSecrets = {
  name: 'rampart-token-secrets',
  kind: 'ValidatingPolicy',
  title: 'No service account token Secrets',
  description: 'Nobody creates Secrets of type kubernetes.io/service-account-token in a team namespace: such a Secret holds a Kubernetes API token that never expires. Background evaluation is off for this policy only: Kyverno\'s reports controller may not read Secrets.',
  resource: 'secrets',
  autogen: false,
  background: false,
  // A token Secret belongs to no app: it is never waived.
  exceptionKinds: [],
  variables: [teamVariable, { name: 'app', expression: 'object.metadata.name' }],
  rules: [{
    name: 'service-account-token',
    message: 'the Secret is of type kubernetes.io/service-account-token',
    check: 'object.?type.orValue("Opaque") != "kubernetes.io/service-account-token"',
    problem: '"Secret " + object.metadata.name + " is a long-lived service account token (type kubernetes.io/service-account-token)"',
    fix: 'apps get no API token, and Rampart renders none',
  }],
};

// signers are the cluster's trusted signers (policy.trustedSigners), each with the
// name of its attestor.
local signers(cluster) =
  local s = get(get(cluster.spec, 'policy', {}), 'trustedSigners', []);
  [s[i] { attestor: 'signer' + i } for i in std.range(0, std.length(s) - 1)];

local imageSignatures = {
  name: 'rampart-image-signatures',
  kind: 'ImageValidatingPolicy',
  title: 'Signed images',
  description: "Every image in a team namespace from a registry the cluster names a trusted signer for (policy.trustedSigners in cluster.yaml) carries a valid signature by that signer, checked against the image's digest. Rendered only on clusters that name signers.",
  resource: 'pods',
  autogen: true,
  exceptionKinds: podKinds,
  rules: [],
};

{
  // mode is Enforce or Audit: policy.mode in cluster.yaml, by default Enforce on
  // production and Audit elsewhere.
  mode(cluster)::
    get(get(cluster.spec, 'policy', {}), 'mode', if cluster.spec.environment == 'production' then 'Enforce' else 'Audit'),

  actions(cluster):: if $.mode(cluster) == 'Enforce' then ['Deny'] else ['Audit'],

  // policies are the cluster's ValidatingPolicies, as definitions.
  policies(cluster):: [podSecurity, resources, images(cluster), serviceAccountToken, serviceTypes, tokenSecrets],

  // catalogue is every policy a team's exception may name, with its rules, whatever
  // the cluster: what generator/internal/defaults copies for the loader.
  catalogue:: [
    { name: p.name, kind: p.kind, rules: [r.name for r in p.rules], waivable: std.length(p.exceptionKinds) > 0 }
    for p in $.policies({ spec: { environment: 'production', policy: { allowedRegistries: ['example/'] } } }) + [imageSignatures]
  ],

  local annotations(p) = {
    'policies.kyverno.io/title': p.title,
    'policies.kyverno.io/category': 'Rampart',
    'policies.kyverno.io/subject': std.asciiUpper(p.resource[0]) + std.substr(p.resource, 1, std.length(p.resource) - 2),
    'policies.kyverno.io/description': p.description,
  },

  // splits says whether the cluster renders each policy twice: on an Enforce
  // cluster, the Deny policy judges the team namespaces not labelled for admission
  // audit, and its -audit copy, with validationActions [Audit], the ones that are
  // (a team's spec.enforcement; lib/enforcement.libsonnet).
  splits(cluster):: $.mode(cluster) == 'Enforce',

  local matchConstraints(cluster, p, audit) = {
    namespaceSelector: { matchExpressions: [{ key: d.teamLabel, operator: 'Exists' }] + (
      if $.splits(cluster) then [{ key: enforcement.label, operator: if audit then 'In' else 'NotIn', values: ['audit'] }] else []
    ) },
    resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: [p.resource] }],
  },

  local common(cluster, p, audit) = {
    validationActions: if audit then ['Audit'] else $.actions(cluster),
    // Production fails closed: without Kyverno nothing new starts in a team namespace.
    failurePolicy: if $.mode(cluster) == 'Enforce' && !audit then 'Fail' else 'Ignore',
    evaluation: { background: { enabled: get(p, 'background', true) } },
    matchConstraints: matchConstraints(cluster, p, audit),
    [if p.autogen then 'autogen']: { podControllers: { controllers: podControllers } },
  },

  // validation is one rule: it yields to an exception that names it, and its message
  // says whose object it is, what is wrong, what to change in the spec, and what an
  // exception would name.
  local validation(p, r) = {
    expression: lit(r.name) + ' in exceptions.allowedValues || (' + r.check + ')',
    message: p.name + ': ' + r.message + ' [policy ' + p.name + ', rule ' + r.name + ']',
    messageExpression: 'variables.team + "/" + variables.app + ": " + ' + r.problem + ' + "; ' + r.fix + '; deploy through teams/" + variables.team + ".yaml [policy ' + p.name + ', rule ' + r.name + ']"',
  },

  validatingPolicy(cluster, p, audit=false)::
    local rules = [r for r in p.rules if get(r, 'enabled', true)];
    k.object('policies.kyverno.io/v1', 'ValidatingPolicy', p.name + (if audit then '-audit' else ''), labels=labels) {
      metadata+: { annotations: annotations(p) },
      spec: common(cluster, p, audit) {
        variables: p.variables + std.flattenArrays([get(r, 'variables', []) for r in rules]),
        validations: [validation(p, r) for r in rules],
      },
    },

  imageValidatingPolicy(cluster, audit=false)::
    local p = imageSignatures;
    local s = signers(cluster);
    local all = '(images.containers + images.initContainers + images.ephemeralContainers)';
    k.object('policies.kyverno.io/v1', 'ImageValidatingPolicy', p.name + (if audit then '-audit' else ''), labels=labels) {
      metadata+: { annotations: annotations(p) },
      spec: common(cluster, p, audit) {
        // Rampart pins every image on render; Kyverno checks the digest and never
        // rewrites a workload (which Flux would then see drift from Git).
        validationConfigurations: { mutateDigest: false, verifyDigest: true, required: true },
        matchImageReferences: [{ glob: x.registry + '*' } for x in s],
        attestors: [
          { name: x.attestor } + (
            if get(x, 'publicKey', '') != '' then { cosign: { key: { data: x.publicKey } } }
            else { cosign: { keyless: { identities: [{ issuer: x.keyless.issuer, subject: x.keyless.subject }] } } }
          )
          for x in s
        ],
        validations: [
          {
            expression: all + '.filter(i, i.startsWith(' + lit(x.registry) + ')).all(i, verifyImageSignatures(i, [attestors.' + x.attestor + ']) > 0)',
            message: p.name + ': an image from ' + x.registry + ' is not signed by its trusted signer [policy ' + p.name + ']',
            messageExpression: '(has(object.metadata.namespace) ? object.metadata.namespace : "") + ": images " + ' + all + '.filter(i, i.startsWith(' + lit(x.registry) + ')).join(", ") + " must be signed by the trusted signer of ' + x.registry + '; publish signed images and deploy through teams/" + (has(object.metadata.namespace) ? object.metadata.namespace : "") + ".yaml [policy ' + p.name + ']"',
          }
          for x in s
        ],
      },
    },

  platform(cluster, teams)::
    {
      'admission.yaml': [$.validatingPolicy(cluster, p) for p in $.policies(cluster)] +
                        (if std.length(signers(cluster)) > 0 then [$.imageValidatingPolicy(cluster)] else []) +
                        (if !$.splits(cluster) then [] else
                           [$.validatingPolicy(cluster, p, true) for p in $.policies(cluster)] +
                           (if std.length(signers(cluster)) > 0 then [$.imageValidatingPolicy(cluster, true)] else [])),
    },

  // rendered says whether the cluster renders the policy an exception names.
  local rendered(cluster, name) =
    name != imageSignatures.name || std.length(signers(cluster)) > 0,

  local policyOf(name) = [p for p in $.policies({ spec: { environment: 'production' } }) + [imageSignatures] if p.name == name][0],

  // appsMatch is true for the objects of the named apps: a pod policy's exception
  // matches each app's Deployment, the ReplicaSets that Deployment owns and their
  // Pods (by the app's label and service account, both Rampart's), a Service policy's
  // the app's Service.
  local appsMatch(kinds, apps) =
    local set = list(apps);
    local label = 'object.metadata.?labels[?"app.kubernetes.io/name"].orValue("")';
    local byKind = {
      Deployment: '(object.kind == "Deployment" && object.metadata.name in ' + set + ')',
      ReplicaSet: '(object.kind == "ReplicaSet" && ' + label + ' in ' + set + ' && object.metadata.?ownerReferences.orValue([]).exists(o, o.kind == "Deployment" && o.name == ' + label + '))',
      Pod: '(object.kind == "Pod" && ' + label + ' in ' + set + ' && object.spec.?serviceAccountName.orValue("") == ' + label + ')',
      Service: '(object.kind == "Service" && object.metadata.name in ' + set + ')',
    };
    std.join(' || ', [byKind[kd] for kd in kinds]),

  exception(team, cluster, e)::
    local ns = team.metadata.name;
    local p = policyOf(e.policy);
    local apps = std.sort(e.apps);
    local rules = get(e, 'rules', []);
    k.object('policies.kyverno.io/v1', 'PolicyException', e.policy + '.' + apps[0], ns, k.labels(ns)) {
      spec: {
        policyRefs: [{ name: e.policy, kind: p.kind }] +
                    (if $.splits(cluster) then [{ name: e.policy + '-audit', kind: p.kind }] else []),
        matchConditions: [
          { name: 'team-namespace', expression: 'has(object.metadata.namespace) && object.metadata.namespace == ' + lit(ns) + '' },
          { name: 'apps', expression: appsMatch(p.exceptionKinds, apps) },
        ],
        [if std.length(rules) > 0 then 'allowedValues']: rules,
        // The end of the last day, UTC. Kyverno honours it at admission only; the
        // render stops rendering the exception the day after.
        expiresAt: e.expires + 'T23:59:59Z',
        properties: {
          team: ns,
          reason: e.reason,
          source: get(e, 'source', ''),
          expires: e.expires,
        },
      },
    },

  objects(team, cluster, intents):: {
    tenant: [
      $.exception(team, cluster, e)
      for e in get(get(team.spec, 'exceptions', {}), 'policies', [])
      if !get(e, 'expired', false) && rendered(cluster, e.policy)
    ],
    files: {},
  },

  // The team's reconciler manages no admission kinds: PolicyExceptions come from the
  // spec and go to the tenant file only.
  tenantRules:: [],
}
