// Entry point for one team on one cluster. Rampart calls it with the cluster, the team
// and every team on the cluster (peers, by name), and writes:
//   tenant -> clusters/<cluster>/tenants/<team>.yaml (applied by the cluster's reconciler)
//   files  -> clusters/<cluster>/teams/<team>/<file> (applied as the team)
local layers = import 'layers.libsonnet';
local namespace = import 'namespace.libsonnet';
local tenant = import 'tenant.libsonnet';
local workload = import 'workload.libsonnet';

// merge concatenates the objects of files two layers both write.
local merge(acc, files) = acc + { [f]: std.get(acc, f, []) + files[f] for f in std.objectFields(files) };

function(cluster, team, peers)
  local rendered = [l.objects(team, cluster, peers) for l in layers];
  {
    tenant: [namespace.namespace(team, cluster)] +
            namespace.groupBindings(team, cluster) +
            tenant.objects(team, cluster) +
            std.flattenArrays([r.tenant for r in rendered]),
    files: std.foldl(
      function(acc, r) merge(acc, r.files),
      rendered,
      { [app.name + '.yaml']: workload.objects(team, cluster, app) for app in team.spec.apps },
    ),
  }
