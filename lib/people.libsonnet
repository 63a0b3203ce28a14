// People: Rampart's own ClusterRoles for the teams' identity-provider groups, rendered
// in the platform layer (platform/rbac.yaml) so a reviewer sees every right, and bound
// in each team's namespace only (lib/namespace.libsonnet groupBindings), never
// cluster-wide. They replace Kubernetes' built-in view and edit: edit reads every
// Secret, execs into pods and creates service-account tokens, and neither shows in
// the rendered output.
//
//   rampart:viewer (production): reads the team's workloads, services, network, mesh,
//     ingress and admission objects, its Flux objects, events and pod logs; no Secrets,
//     no pods/exec, pods/attach or pods/portforward, no serviceaccounts/token.
//   rampart:developer (every other environment): the viewer's reads, plus deleting
//     pods (a restart: the Deployment starts new ones) and scaling Deployments and
//     StatefulSets (their scale subresource); plus exec, attach and port-forward into
//     pods where cluster.yaml sets spec.access.debugging, which the loader refuses on
//     a production cluster.
//
// generator/verify/people.go checks both roles and every binding in a tenant file.
local d = import 'defaults.libsonnet';
local k = import 'k.libsonnet';
local layers = import 'layers.libsonnet';

local read = ['get', 'list', 'watch'];

// rules turns [group, resource] pairs into one rule per API group, sorted.
local rules(pairs, verbs) =
  local groups = std.uniq(std.sort([p[0] for p in pairs]));
  [
    { apiGroups: [g], resources: std.uniq(std.sort([p[1] for p in pairs if p[0] == g])), verbs: verbs }
    for g in groups
  ];

{
  // readable are what a team's people may read in its namespace: every kind a team
  // directory or tenant file holds, and what stands behind a workload. Secrets are
  // not among them, and no subresource but pods/log.
  readable:: [
    ['', 'configmaps'],
    ['', 'endpoints'],
    ['', 'events'],
    ['', 'limitranges'],
    ['', 'persistentvolumeclaims'],
    ['', 'pods'],
    ['', 'pods/log'],
    ['', 'resourcequotas'],
    ['', 'serviceaccounts'],
    ['', 'services'],
    ['apps', 'deployments'],
    ['apps', 'replicasets'],
    ['apps', 'statefulsets'],
    ['autoscaling', 'horizontalpodautoscalers'],
    ['batch', 'cronjobs'],
    ['batch', 'jobs'],
    ['discovery.k8s.io', 'endpointslices'],
    ['events.k8s.io', 'events'],
    ['policy', 'poddisruptionbudgets'],
    ['networking.k8s.io', 'networkpolicies'],
    ['rbac.authorization.k8s.io', 'rolebindings'],
    ['cilium.io', 'ciliumnetworkpolicies'],
    ['security.istio.io', 'authorizationpolicies'],
    ['security.istio.io', 'peerauthentications'],
    ['policies.kyverno.io', 'policyexceptions'],
    ['wgpolicyk8s.io', 'policyreports'],
    ['source.toolkit.fluxcd.io', 'gitrepositories'],
    ['kustomize.toolkit.fluxcd.io', 'kustomizations'],
  ] + [
    [g, r]
    for rule in std.flattenArrays([l.tenantRules for l in layers])
    for g in rule.apiGroups
    for r in rule.resources
  ],

  // operable are what a developer may change outside Git: deleting a pod restarts
  // it, and the scale subresource sets replicas (until the team's Flux Kustomization
  // applies the spec's replicas again).
  operable:: [
    { apiGroups: [''], resources: ['pods'], verbs: ['delete'] },
    { apiGroups: ['apps'], resources: ['deployments/scale', 'statefulsets/scale'], verbs: ['get', 'patch', 'update'] },
  ],

  // debugging are exec, attach and port-forward (create, and get for the WebSocket
  // upgrade kubectl sends).
  debugging:: [
    { apiGroups: [''], resources: ['pods/attach', 'pods/exec', 'pods/portforward'], verbs: ['create', 'get'] },
  ],

  debuggingAllowed(cluster):: k.get(k.get(cluster.spec, 'access', {}), 'debugging', false),

  local role(name, rs) =
    k.object('rbac.authorization.k8s.io/v1', 'ClusterRole', name, labels={
      'app.kubernetes.io/managed-by': 'rampart',
      'rampart.dev/people-role': std.splitLimit(name, ':', 1)[1],
    }) { rules: rs },

  viewer(cluster):: role(d.peopleRoles.viewer, rules($.readable, read)),

  developer(cluster)::
    role(d.peopleRoles.developer, rules($.readable, read) + $.operable +
                                  (if $.debuggingAllowed(cluster) then $.debugging else [])),

  roles(cluster):: [$.viewer(cluster), $.developer(cluster)],
}
