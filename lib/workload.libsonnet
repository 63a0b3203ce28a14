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

// deployment is an app's Deployment; the arguments after app are what the app's
// objects share (objects, below).
local deployment(team, app, ns, labels, selector, replicas, port) =
  local uid = k.get(app, 'runAsUser', d.app.runAsUser);
  local res = app.resources;
  local probes = k.get(app, 'probes', {});
  local paths = k.get(app, 'writablePaths', []);
  local volumes = [{ name: 'writable-' + i, path: paths[i] } for i in std.range(0, std.length(paths) - 1)];
  local secretVolumes = identity.volumes(app);
  local mounts = [{ name: v.name, mountPath: v.path } for v in volumes] + identity.volumeMounts(app);
  local annotations = quarantine.annotations(app);
  local asked = k.get(res, 'ephemeralStorage', null);
  local ephemeral = (std.max(d.app.ephemeralStorageMi, if asked == null then 0 else mebibytes(asked)) +
                     std.length(volumes) * d.app.writableSizeLimitMi) + 'Mi';
  local env = k.get(app, 'env', []);
  local secretEnv = k.get(app, 'secretEnv', []);
  local liveness = k.get(probes, 'liveness', null);
  local readiness = k.get(probes, 'readiness', null);
  local startup = k.get(probes, 'startup', null);
  local podLabels = identity.podLabels(app);
  local container = {
    name: app.name,
    image: app.image,
    imagePullPolicy: 'IfNotPresent',
    [if std.objectHas(app, 'command') then 'command']: app.command,
    [if std.objectHas(app, 'args') then 'args']: app.args,
    ports: [{ name: port, containerPort: app.port, protocol: 'TCP' }],
    [if std.length(env) + std.length(secretEnv) > 0 then 'env']:
      [{ name: e.name, value: e.value } for e in env] +
      [{ name: e.name, valueFrom: { secretKeyRef: { name: e.secret, key: e.key } } } for e in secretEnv],
    resources: {
      requests: { memory: res.memory, 'ephemeral-storage': ephemeral, [if std.objectHas(res, 'cpu') then 'cpu']: res.cpu },
      limits: { memory: k.get(res, 'memoryLimit', res.memory), 'ephemeral-storage': ephemeral, [if std.objectHas(res, 'cpuLimit') then 'cpu']: res.cpuLimit },
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
    [if liveness != null then 'livenessProbe']: probe(liveness, port),
    readinessProbe: if readiness != null then probe(readiness, port) else tcpReadiness(port),
    [if startup != null then 'startupProbe']: probe(startup, port),
  };
  k.object('apps/v1', 'Deployment', app.name, ns, labels) {
    [if std.length(annotations) > 0 then 'metadata']+: { annotations: annotations },
    spec: {
      replicas: replicas,
      revisionHistoryLimit: d.app.revisionHistoryLimit,
      selector: { matchLabels: selector },
      template: {
        metadata: { labels: labels + selector + podLabels },
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
  };

{
  replicas(app):: k.get(app, 'replicas', d.app.replicas),
  protocol(app):: k.get(app, 'protocol', d.app.protocol),
  portName(app):: portName(self.protocol(app)),

  // writableVolumes names one emptyDir per declared writable path.
  writableVolumes(app)::
    local paths = k.get(app, 'writablePaths', []);
    [{ name: 'writable-' + i, path: paths[i] } for i in std.range(0, std.length(paths) - 1)],

  // ephemeralStorage is each container's ephemeral-storage request and limit: what the
  // app writes itself (resources.ephemeralStorage, at least the default) plus the size
  // limit of every writable path's emptyDir, which count against the same budget.
  ephemeralStorage(app)::
    local asked = k.get(app.resources, 'ephemeralStorage', null);
    local own = std.max(d.app.ephemeralStorageMi, if asked == null then 0 else mebibytes(asked));
    (own + std.length(k.get(app, 'writablePaths', [])) * d.app.writableSizeLimitMi) + 'Mi',

  // objects are everything the workload layer renders for one app: a ServiceAccount,
  // a Deployment, a Service and, with more than one replica, a PodDisruptionBudget.
  // What they share is computed once.
  objects(team, app)::
    local ns = team.metadata.name;
    local labels = k.labels(ns, app.name);
    local selector = k.selector(app.name);
    local replicas = $.replicas(app);
    local protocol = $.protocol(app);
    local port = portName(protocol);
    local annotations = identity.serviceAccountAnnotations(app);
    local serviceAccount = k.object('v1', 'ServiceAccount', app.name, ns, labels) {
      [if std.length(annotations) > 0 then 'metadata']+: { annotations: annotations },
      automountServiceAccountToken: false,
    };
    local service = k.object('v1', 'Service', app.name, ns, labels) {
      spec: {
        type: 'ClusterIP',
        selector: selector,
        ports: [{
          name: port,
          port: app.port,
          targetPort: port,
          protocol: 'TCP',
          appProtocol: if protocol == 'grpc' then 'grpc' else if protocol == 'http' then 'http' else 'tcp',
        }],
      },
    };
    local pdb = if replicas > 1 then [
      k.object('policy/v1', 'PodDisruptionBudget', app.name, ns, labels) {
        spec: {
          maxUnavailable: 1,
          selector: { matchLabels: selector },
        },
      },
    ] else [];
    [serviceAccount, deployment(team, app, ns, labels, selector, replicas, port), service] + pdb,
}
