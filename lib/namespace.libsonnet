// Namespace isolation and RBAC: the team's namespace, labelled for Pod Security
// admission at the restricted level, and identity-provider groups bound inside it to
// Rampart's own people roles (lib/people.libsonnet): the viewer on production, the
// developer elsewhere.
local d = import 'defaults.libsonnet';
local enforcement = import 'enforcement.libsonnet';
local k = import 'k.libsonnet';
local linkerd = import 'linkerd.libsonnet';
local mesh = import 'mesh.libsonnet';

{
  namespace(team, cluster)::
    local name = team.metadata.name;
    local version = 'v' + cluster.spec.kubernetesVersion;
    k.object('v1', 'Namespace', name, labels=k.labels(name) {
      'pod-security.kubernetes.io/enforce': 'restricted',
      'pod-security.kubernetes.io/enforce-version': version,
      'pod-security.kubernetes.io/audit': 'restricted',
      'pod-security.kubernetes.io/audit-version': version,
      'pod-security.kubernetes.io/warn': 'restricted',
      'pod-security.kubernetes.io/warn-version': version,
      [d.teamLabel]: name,
      [if enforcement.audit(team, cluster, 'admission') then enforcement.label]: 'audit',
    } + mesh.namespaceLabels(cluster)) + (
      local a = linkerd.namespaceAnnotations(team, cluster);
      if std.length(a) == 0 then {} else { metadata+: { annotations: a } }
    ),

  groupBindings(team, cluster)::
    local ns = team.metadata.name;
    [
      k.object('rbac.authorization.k8s.io/v1', 'RoleBinding', 'group-' + g.name, ns, k.labels(ns)) {
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: d.groupRole(cluster.spec.environment) },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: g.id }],
      }
      for g in k.get(team.spec, 'groups', [])
    ],
}
