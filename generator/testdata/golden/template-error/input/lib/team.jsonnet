// A platform template with a rule that this team breaks: the error must reach the
// user with the template's file and line.
local limits = import 'limits.libsonnet';

function(cluster, team, intents) {
  tenant: [],
  files: { [app.name + '.yaml']: limits.check(app) for app in team.spec.apps },
}
