// Entry point for the cluster-wide platform layer. Rampart calls it with the cluster
// and the names of the teams on it, and writes each file to clusters/<cluster>/platform/<file>.
local platform = import 'platform.libsonnet';

function(cluster, teams) {
  tenant: [],
  files: platform.objects(cluster, teams),
}
