// The Flux tenant: the team's reconciler ServiceAccount, bound only inside the team's
// namespace, and the team's own GitRepository and Kustomization in that namespace, so
// the team's directory is applied as the team under Flux's multi-tenancy lockdown
// (--no-cross-namespace-refs=true, --default-service-account).
local d = import 'defaults.libsonnet';
local k = import 'k.libsonnet';

{
  objects(team, cluster)::
    local ns = team.metadata.name;
    local flux = cluster.spec.flux;
    local labels = k.labels(ns);
    local sa = d.tenantReconcilerServiceAccount;
    local interval = k.get(flux, 'interval', d.cluster.interval);
    local repo = flux.repository;
    [
      k.object('v1', 'ServiceAccount', sa, ns, labels) {
        automountServiceAccountToken: false,
      },
      k.object('rbac.authorization.k8s.io/v1', 'RoleBinding', sa, ns, labels) {
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: d.tenantReconcilerRole },
        subjects: [{ kind: 'ServiceAccount', name: sa, namespace: ns }],
      },
      k.object('source.toolkit.fluxcd.io/v1', 'GitRepository', 'rampart', ns, labels) {
        spec: {
          interval: interval,
          url: repo.url,
          ref: { branch: k.get(repo, 'branch', d.cluster.branch) },
          [if k.get(repo, 'secretName', '') != '' then 'secretRef']: { name: repo.secretName },
        },
      },
      k.object('kustomize.toolkit.fluxcd.io/v1', 'Kustomization', ns, ns, labels) {
        spec: {
          interval: interval,
          retryInterval: '2m',
          timeout: d.cluster.tenantTimeout,
          path: './clusters/' + cluster.metadata.name + '/teams/' + ns,
          prune: true,
          wait: true,
          sourceRef: { kind: 'GitRepository', name: 'rampart' },
          serviceAccountName: sa,
          targetNamespace: ns,
          dependsOn: [{
            name: k.get(flux, 'rootKustomization', d.cluster.rootKustomization),
            namespace: k.get(flux, 'namespace', d.cluster.fluxNamespace),
          }],
        },
      },
    ],
}
