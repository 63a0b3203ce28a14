// Workload hardening: per app a ServiceAccount (no token), a Deployment whose pods pass
// the Pod Security Standard "restricted" level, a Service, and a PodDisruptionBudget
// and topology spread when the app runs more than one replica.
local d = import 'defaults.libsonnet';
local identity = import 'identity.libsonnet';
local k = import 'k.libsonnet';
local quarantine = import 'quarantine.libsonnet';

local portName(protocol) = if protocol == 'tcp' then 'tcp' else protocol;

local probe(p, port) = if p == null then null else {
  httpGet: { path: p.path, port: port },
  initialDelaySeconds: k.get(p, 'initialDelaySeconds', 0),
  periodSeconds: k.get(p, 'periodSeconds', d.app.probe.periodSeconds),
  failureThreshold: k.get(p, 'failureThreshold', d.app.probe.failureThreshold),
  timeoutSeconds: d.app.probe.timeoutSeconds,
};

// tcpReadiness is the readiness probe of an app that declares none: the pod joins its
// Service once the port accepts connections.
local tcpReadiness(port) = {
  tcpSocket: { port: port },
  periodSeconds: d.app.tcpReadiness.periodSeconds,
  failureThreshold: d.app.tcpReadiness.failureThreshold,
  timeoutSeconds: d.app.tcpReadiness.timeoutSeconds,
};

// mebibytes reads a quantity the schema allows for ephemeral storage (Mi or Gi).
local mebibytes(q) =
  local n = std.parseInt(std.substr(q, 0, std.length(q) - 2));
  if std.substr(q, std.length(q) - 2, 2) == 'Gi' then n * 1024 else n;

{
  replicas(app):: k.get(app, 'replicas', d.app.replicas),
  protocol(app):: k.get(app, 'protocol', d.app.protocol),
  portName(app):: portName(self.protocol(app)),

  // writableVolumes names one emptyDir per declared writable path.
  writableVolumes(app):: [
    { name: 'writable-' + i, path: k.get(app, 'writablePaths', [])[i] }
    for i in std.range(0, std.length(k.get(app, 'writablePaths', [])) - 1)
  ],

  // ephemeralStorage is each container's ephemeral-storage request and limit: what the
  // app writes itself (resources.ephemeralStorage, at least the default) plus the size
  // limit of every writable path's emptyDir, which count against the same budget.
  ephemeralStorage(app)::
    local own = std.max(d.app.ephemeralStorageMi, mebibytes(k.get(app.resources, 'ephemeralStorage', '0Mi')));
    (own + std.length($.writableVolumes(app)) * d.app.writableSizeLimitMi) + 'Mi',

  serviceAccount(team, app)::
    local ns = team.metadata.name;
    local annotations = identity.serviceAccountAnnotations(app);
    k.object('v1', 'ServiceAccount', app.name, ns, k.labels(ns, app.name)) {
      [if std.length(annotations) > 0 then 'metadata']+: { annotations: annotations },
      automountServiceAccountToken: false,
    },

  deployment(team, cluster, app)::
    local ns = team.metadata.name;
    local uid = k.get(app, 'runAsUser', d.app.runAsUser);
    local replicas = $.replicas(app);
    local res = app.resources;
    local port = $.portName(app);
    local probes = k.get(app, 'probes', {});
    local volumes = $.writableVolumes(app);
    local secretVolumes = identity.volumes(app);
    local mounts = [{ name: v.name, mountPath: v.path } for v in volumes] + identity.volumeMounts(app);
    local annotations = quarantine.annotations(app);
    local ephemeral = $.ephemeralStorage(app);
    local selector = k.selector(app.name);
    local container = {
      name: app.name,
      image: app.image,
      imagePullPolicy: 'IfNotPresent',
      [if std.objectHas(app, 'command') then 'command']: app.command,
      [if std.objectHas(app, 'args') then 'args']: app.args,
      ports: [{ name: port, containerPort: app.port, protocol: 'TCP' }],
      [if std.length(k.get(app, 'env', []) + k.get(app, 'secretEnv', [])) > 0 then 'env']:
        [{ name: e.name, value: e.value } for e in k.get(app, 'env', [])] +
        [{ name: e.name, valueFrom: { secretKeyRef: { name: e.secret, key: e.key } } } for e in k.get(app, 'secretEnv', [])],
      resources: {
        requests: { memory: res.memory, 'ephemeral-storage': ephemeral } + (if std.objectHas(res, 'cpu') then { cpu: res.cpu } else {}),
        limits: { memory: k.get(res, 'memoryLimit', res.memory), 'ephemeral-storage': ephemeral } + (if std.objectHas(res, 'cpuLimit') then { cpu: res.cpuLimit } else {}),
      },
      securityContext: {
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
        runAsUser: uid,
        runAsGroup: uid,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      },
      [if std.length(mounts) > 0 then 'volumeMounts']: mounts,
      [if k.get(probes, 'liveness', null) != null then 'livenessProbe']: probe(probes.liveness, port),
      readinessProbe: if k.get(probes, 'readiness', null) != null then probe(probes.readiness, port) else tcpReadiness(port),
      [if k.get(probes, 'startup', null) != null then 'startupProbe']: probe(probes.startup, port),
    };
    k.object('apps/v1', 'Deployment', app.name, ns, k.labels(ns, app.name)) {
      [if std.length(annotations) > 0 then 'metadata']+: { annotations: annotations },
      spec: {
        replicas: replicas,
        revisionHistoryLimit: d.app.revisionHistoryLimit,
        selector: { matchLabels: selector },
        template: {
          metadata: { labels: k.labels(ns, app.name) + selector + identity.podLabels(app) },
          spec: {
            serviceAccountName: app.name,
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            terminationGracePeriodSeconds: d.app.terminationGracePeriodSeconds,
            securityContext: {
              runAsNonRoot: true,
              runAsUser: uid,
              runAsGroup: uid,
              fsGroup: uid,
              seccompProfile: { type: 'RuntimeDefault' },
            },
            containers: [container],
            [if std.length(volumes) + std.length(secretVolumes) > 0 then 'volumes']: [
              { name: v.name, emptyDir: { sizeLimit: d.app.writableSizeLimitMi + 'Mi' } }
              for v in volumes
            ] + secretVolumes,
            [if replicas > 1 then 'topologySpreadConstraints']: [
              {
                maxSkew: 1,
                topologyKey: key,
                whenUnsatisfiable: 'ScheduleAnyway',
                labelSelector: { matchLabels: selector },
              }
              for key in ['kubernetes.io/hostname', 'topology.kubernetes.io/zone']
            ],
          },
        },
      },
    },

  service(team, app)::
    local ns = team.metadata.name;
    local protocol = $.protocol(app);
    k.object('v1', 'Service', app.name, ns, k.labels(ns, app.name)) {
      spec: {
        type: 'ClusterIP',
        selector: k.selector(app.name),
        ports: [{
          name: $.portName(app),
          port: app.port,
          targetPort: $.portName(app),
          protocol: 'TCP',
          appProtocol: if protocol == 'grpc' then 'grpc' else if protocol == 'http' then 'http' else 'tcp',
        }],
      },
    },

  podDisruptionBudget(team, app)::
    local ns = team.metadata.name;
    if $.replicas(app) > 1 then [
      k.object('policy/v1', 'PodDisruptionBudget', app.name, ns, k.labels(ns, app.name)) {
        spec: {
          maxUnavailable: 1,
          selector: { matchLabels: k.selector(app.name) },
        },
      },
    ] else [],

  // objects are everything the workload layer renders for one app.
  objects(team, cluster, app)::
    [$.serviceAccount(team, app), $.deployment(team, cluster, app), $.service(team, app)] +
    $.podDisruptionBudget(team, app),
}
