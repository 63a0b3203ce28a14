// Entry point for the cluster-wide platform layer. Rampart calls it with the cluster
// and the names of the teams on it, and writes each file to clusters/<cluster>/platform/<file>.
// Its runtime is the file of Falco lists and macros every team's rules use.
local platform = import 'platform.libsonnet';
local runtime = import 'runtime.libsonnet';

function(cluster, teams) {
  tenant: [],
  files: platform.objects(cluster, teams),
  runtime: runtime.common(cluster),
}
