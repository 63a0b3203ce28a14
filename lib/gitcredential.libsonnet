// The tenants' Git credential. Each team's GitRepository lives in the team's own
// namespace and names the cluster's Git credential (flux.repository.secretName) there,
// because under Flux's lockdown (--no-cross-namespace-refs=true) a tenant may not use
// the one in Flux's namespace. The platform layer renders a Kyverno GeneratingPolicy
// that clones the credential from Flux's namespace into every namespace Rampart
// labels as a team's (rampart.dev/team), for namespaces that exist when the policy
// arrives and for every one created later, and keeps each copy in sync with the
// source (a rotated key reaches every tenant; a deleted copy comes back). No person
// copies secrets, and no credential is ever rendered into the repository.
//
// Kyverno's background controller does the cloning. Its default role may not touch
// Secrets, so a ClusterRole aggregated into it (rbac.kyverno.io/aggregate-to-
// background-controller) grants what it needs: get, update and delete of the named
// Secret only, create (which RBAC cannot narrow by name), and list and watch, which
// its watcher of generated resources does cluster-wide.
//
// The credential must be read-only (a read-only deploy key or token): every tenant
// namespace holds a copy.
local d = import 'defaults.libsonnet';
local k = import 'k.libsonnet';

local labels = { 'app.kubernetes.io/managed-by': 'rampart' };

{
  // secretName is the credential's name, in Flux's namespace and in every team's;
  // empty when the repository needs none.
  secretName(cluster):: k.get(cluster.spec.flux.repository, 'secretName', ''),

  policy(cluster)::
    local ns = k.get(cluster.spec.flux, 'namespace', d.cluster.fluxNamespace);
    k.object('policies.kyverno.io/v1', 'GeneratingPolicy', d.gitCredential.policyName, labels=labels) {
      spec: {
        evaluation: {
          generateExisting: { enabled: true },
          synchronize: { enabled: true },
        },
        matchConstraints: {
          resourceRules: [{
            apiGroups: [''],
            apiVersions: ['v1'],
            operations: ['CREATE', 'UPDATE'],
            resources: ['namespaces'],
          }],
          objectSelector: { matchExpressions: [{ key: d.teamLabel, operator: 'Exists' }] },
        },
        variables: [{
          name: 'source',
          expression: 'resource.Get("v1", "secrets", ' + std.escapeStringJson(ns) + ', ' + std.escapeStringJson($.secretName(cluster)) + ')',
        }],
        generate: [{ expression: 'generator.Apply(object.metadata.name, [variables.source])' }],
      },
    },

  kyvernoRole(cluster)::
    k.object('rbac.authorization.k8s.io/v1', 'ClusterRole', d.gitCredential.kyvernoRole, labels=labels {
      'rbac.kyverno.io/aggregate-to-background-controller': 'true',
    }) {
      rules: [
        { apiGroups: [''], resources: ['secrets'], resourceNames: [$.secretName(cluster)], verbs: ['delete', 'get', 'update'] },
        { apiGroups: [''], resources: ['secrets'], verbs: ['create', 'list', 'watch'] },
      ],
    },

  platform(cluster, teams)::
    if $.secretName(cluster) == '' then {}
    else { 'git-credential.yaml': [$.policy(cluster), $.kyvernoRole(cluster)] },
}
