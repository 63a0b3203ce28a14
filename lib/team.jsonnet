// Entry point for one team on one cluster. Rampart calls it with the cluster, the team
// and the team's intents on the cluster (its resolved calls, both directions: see
// intents.libsonnet), and writes:
//   tenant -> clusters/<cluster>/tenants/<team>.yaml (applied by the cluster's reconciler)
//   files  -> clusters/<cluster>/teams/<team>/<file> (applied as the team), with the
//             files of apps.jsonnet, which renders what is alike on every cluster
// The team's Falco rules file comes from runtime.jsonnet, which sees only the cluster
// fields the rules read.
local layers = import 'layers.libsonnet';
local namespace = import 'namespace.libsonnet';
local tenant = import 'tenant.libsonnet';

// merge concatenates the objects of files two layers both write.
local merge(acc, files) = acc + { [f]: std.get(acc, f, []) + files[f] for f in std.objectFields(files) };

function(cluster, team, intents)
  local rendered = [l.objects(team, cluster, intents) for l in layers];
  {
    tenant: [namespace.namespace(team, cluster)] +
            namespace.groupBindings(team, cluster) +
            tenant.objects(team, cluster) +
            std.flattenArrays([r.tenant for r in rendered]),
    files: std.foldl(function(acc, r) merge(acc, r.files), rendered, {}),
  }
