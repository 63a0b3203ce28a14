// Entry point for a team's Falco rules file on a cluster (runtime.libsonnet). Rampart
// calls `rules` with the team, the team's intents on the cluster, and the cluster cut
// down to the fields `cluster` lists (dotted paths; the others are absent, so reading
// one is an error, never a silent default). The rules file then depends on nothing
// else, and Rampart evaluates it once per distinct team, intents and fields rather
// than once per cluster: a team's clusters of one environment and CNI share it. List
// here every cluster field runtime.libsonnet (and what it imports) reads for a team.
local runtime = import 'runtime.libsonnet';

{
  cluster: ['spec.cni', 'spec.egress.fqdnFallbackCIDRs', 'spec.environment', 'spec.runtime.enabled', 'spec.runtime.minimumPriority'],
  rules(cluster, team, intents):: runtime.rules(team, cluster, intents),
}
