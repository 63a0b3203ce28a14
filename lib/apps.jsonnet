// Entry point for what a team renders alike on every cluster it runs on: each app's
// workload (workload.libsonnet). Rampart calls it with the team alone, once per team
// and render, and adds its files to those team.jsonnet renders for each cluster:
//   files -> clusters/<cluster>/teams/<team>/<file> (applied as the team)
// It sees no cluster, so whatever differs between clusters belongs to team.jsonnet;
// what is here costs one evaluation for all of the team's clusters instead of one
// each.
local workload = import 'workload.libsonnet';

function(team) {
  files: { [app.name + '.yaml']: workload.objects(team, app) for app in team.spec.apps },
}
