// The layers beyond the workload, in order. Each exports objects(team, cluster, intents)
// giving {tenant: [...], files: {...}}, platform(cluster, teams) giving files, and
// tenantRules: the kinds its team files hold, granted to every team's reconciler.
[
  import 'network.libsonnet',
  import 'mesh.libsonnet',
  import 'linkerd.libsonnet',
  import 'ingress.libsonnet',
  import 'admission.libsonnet',
  import 'runtime.libsonnet',
  import 'identity.libsonnet',
  import 'quarantine.libsonnet',
]
