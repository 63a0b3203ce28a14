// The platform layer: cluster-scoped objects the cluster's own reconciler applies
// before any tenant, such as the role every tenant reconciler is bound to.
local d = import 'defaults.libsonnet';
local k = import 'k.libsonnet';
local layers = import 'layers.libsonnet';

{
  // tenantRules are what a team's Flux reconciler may manage in its own namespace; the
  // verify stage refuses a team object whose kind is not granted here.
  tenantRules:: [
    { apiGroups: [''], resources: ['configmaps', 'serviceaccounts', 'services'] },
    { apiGroups: ['apps'], resources: ['deployments'] },
    { apiGroups: ['policy'], resources: ['poddisruptionbudgets'] },
    { apiGroups: ['autoscaling'], resources: ['horizontalpodautoscalers'] },
  ] + std.flattenArrays([l.tenantRules for l in layers]),

  tenantReconcilerRole(cluster)::
    k.object('rbac.authorization.k8s.io/v1', 'ClusterRole', d.tenantReconcilerRole, labels={ 'app.kubernetes.io/managed-by': 'rampart' }) {
      rules: [
        r { verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'] }
        for r in $.tenantRules
      ],
    },

  objects(cluster, teams)::
    std.foldl(
      function(acc, files) acc + { [f]: std.get(acc, f, []) + files[f] for f in std.objectFields(files) },
      [l.platform(cluster, teams) for l in layers],
      { 'rbac.yaml': [$.tenantReconcilerRole(cluster)] },
    ),
}
