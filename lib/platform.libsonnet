// The platform layer: cluster-scoped objects the cluster's own reconciler applies
// before any tenant, such as the role every tenant reconciler is bound to, the roles
// people are bound to in their teams' namespaces (lib/people.libsonnet), and the
// policy that hands every tenant the cluster's Git credential.
local d = import 'defaults.libsonnet';
local gitcredential = import 'gitcredential.libsonnet';
local k = import 'k.libsonnet';
local layers = import 'layers.libsonnet';
local people = import 'people.libsonnet';

// key names a rule's resources as "group/resource", one per entry.
local keys(rule) = [g + '/' + r for g in rule.apiGroups for r in rule.resources];

// rules turns "group/resource" keys into one rule per API group, sorted.
local rules(ks, verbs) =
  local groups = std.uniq(std.sort([std.splitLimit(key, '/', 1)[0] for key in ks]));
  [
    {
      apiGroups: [g],
      resources: std.uniq(std.sort([std.splitLimit(key, '/', 1)[1] for key in ks if std.splitLimit(key, '/', 1)[0] == g])),
      verbs: verbs,
    }
    for g in groups
  ];

{
  // tenantRules are what a team's Flux reconciler may manage in its own namespace; the
  // verify stage refuses a team object whose kind is not granted here.
  tenantRules:: [
    { apiGroups: [''], resources: ['configmaps', 'serviceaccounts', 'services'] },
    { apiGroups: ['apps'], resources: ['deployments'] },
    { apiGroups: ['policy'], resources: ['poddisruptionbudgets'] },
    { apiGroups: ['autoscaling'], resources: ['horizontalpodautoscalers'] },
  ] + std.flattenArrays([l.tenantRules for l in layers]),

  // healthReads are what Flux's health checks read to judge an object of each kind,
  // beyond the object itself. With `wait: true` kustomize-controller polls every
  // applied object with kstatus as the team's reconciler, and kstatus lists what
  // stands behind a workload (github.com/fluxcd/cli-utils, clusterreader
  // genGroupKinds and the status readers): a Deployment's ReplicaSets and their Pods,
  // a StatefulSet's or a ReplicaSet's Pods. Every other kind is judged from the object
  // alone. generator/verify/health.go holds the same table and checks the role below.
  healthReads:: {
    'apps/deployments': ['apps/replicasets', '/pods'],
    'apps/replicasets': ['/pods'],
    'apps/statefulsets': ['/pods'],
  },

  // tenantHealthReads are the health reads of every kind a reconciler manages, less
  // what it manages already: derived from tenantRules, so a layer that grants a new
  // workload kind grants its health reads with it, and nothing else is readable.
  tenantHealthReads::
    local managed = std.flattenArrays([keys(r) for r in $.tenantRules]);
    std.uniq(std.sort([
      read
      for key in managed
      for read in std.get($.healthReads, key, [])
      if !std.member(managed, read)
    ])),

  tenantReconcilerRole(cluster)::
    k.object('rbac.authorization.k8s.io/v1', 'ClusterRole', d.tenantReconcilerRole, labels={ 'app.kubernetes.io/managed-by': 'rampart' }) {
      rules: [
        r { verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'] }
        for r in $.tenantRules
      ] + rules($.tenantHealthReads, ['get', 'list', 'watch']),
    },

  objects(cluster, teams)::
    std.foldl(
      function(acc, files) acc + { [f]: std.get(acc, f, []) + files[f] for f in std.objectFields(files) },
      [l.platform(cluster, teams) for l in layers] + [gitcredential.platform(cluster, teams)],
      { 'rbac.yaml': [$.tenantReconcilerRole(cluster)] + people.roles(cluster) },
    ),
}
