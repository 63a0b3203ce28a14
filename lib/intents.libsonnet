// The cross-team intent graph, as Rampart hands it to each team: the edges of the
// team's declared calls on this cluster, resolved once per cluster (the callee runs
// here, its app and port exist, and it consents). intents is
//   {outgoing: {<app>: [edge]}, incoming: {<app>: [edge]}}
// and an edge is
//   {from: {team, app}, to: {team, app, port, protocol}, methods: [...], paths: [...]}
// with incoming edges sorted by caller. The network and mesh layers render from it.
local k = import 'k.libsonnet';
local workload = import 'workload.libsonnet';

// normalize fills in the callee's protocol default.
local normalize(e) = e { to+: { protocol: workload.protocol(e.to) } };

{
  // outgoing are the edges an app of the team renders as a caller.
  outgoing(intents, app):: [normalize(e) for e in k.get(k.get(intents, 'outgoing', {}), app.name, [])],

  // incoming are the edges into one app of the team, from every team on the cluster.
  incoming(intents, app):: [normalize(e) for e in k.get(k.get(intents, 'incoming', {}), app.name, [])],
}
