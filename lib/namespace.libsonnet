// Namespace isolation and RBAC: the team's namespace, labelled for Pod Security
// admission at the restricted level, and identity-provider groups bound inside it to
// Rampart's own people roles (lib/people.libsonnet): the viewer on production, the
// developer elsewhere.
local d = import 'defaults.libsonnet';
local admission = import 'admission.libsonnet';
local calico = import 'calico.libsonnet';
local enforcement = import 'enforcement.libsonnet';
local k = import 'k.libsonnet';
local linkerd = import 'linkerd.libsonnet';
local mesh = import 'mesh.libsonnet';

// audited are the layers whose policies the team's namespace gets in audit on this
// cluster, as rendered: network on Calico only, mesh where there is one, admission
// on a cluster whose Kyverno policies deny (elsewhere they audit anyway).
local audited(team, cluster) = [
  l.name
  for l in [
    { name: 'network', on: calico.enabled(cluster) },
    { name: 'mesh', on: mesh.enabled(cluster) || linkerd.enabled(cluster) },
    { name: 'admission', on: admission.splits(cluster) },
  ]
  if l.on && enforcement.audit(team, cluster, l.name)
];

{
  audited(team, cluster):: audited(team, cluster),

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
      [if std.member(audited(team, cluster), 'admission') then enforcement.label]: 'audit',
    } + mesh.namespaceLabels(cluster)) + (
      // rampart.dev/enforcement names the layers in audit (none: every layer enforces),
      // so a review sees the move to enforce on the Namespace.
      local layers = audited(team, cluster);
      local a = linkerd.namespaceAnnotations(team, cluster) +
                (if std.length(layers) > 0 then { [enforcement.annotation]: 'audit: ' + std.join(', ', layers) } else {});
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
