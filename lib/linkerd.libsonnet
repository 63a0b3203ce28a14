// Mesh (layer 7) on clusters with mesh.type linkerd: Linkerd's policy.linkerd.io
// resources from the same calls and consent that drive Istio (lib/mesh.libsonnet).
// Per team namespace the namespace layer sets linkerd.io/inject: enabled and
// config.linkerd.io/default-inbound-policy: deny (audit when the team's mesh
// enforcement is audit), and per app:
//   - a Server for the app's port, accessPolicy deny (audit), so a request no
//     authorization allows is refused (reported);
//   - when no call into the app names methods or paths: a MeshTLSAuthentication with
//     the callers' identities (<sa>.<ns>.serviceaccount.identity.linkerd.<trust
//     domain>) and an AuthorizationPolicy on the Server;
//   - otherwise HTTPRoutes (policy.linkerd.io) on the Server: one per call that names
//     methods or paths, one for the callers that may do anything, one for the mesh
//     ingress gateway (the exposed paths), each with its AuthorizationPolicy and
//     MeshTLSAuthentication. Linkerd drops its default probe route once a Server has
//     routes, so the app's HTTP probe paths get a GET route authorized from any
//     network, as Linkerd's default probe route is.
// Like Istio's, every object goes to the tenant layer.
local d = import 'defaults.libsonnet';
local k = import 'k.libsonnet';
local enforcement = import 'enforcement.libsonnet';
local intents = import 'intents.libsonnet';
local quarantine = import 'quarantine.libsonnet';
local workload = import 'workload.libsonnet';

local get = k.get;
local policy = 'policy.linkerd.io';

{
  enabled(cluster):: get(get(cluster.spec, 'mesh', {}), 'type', 'none') == 'linkerd',

  controlPlaneNamespace(cluster):: get(cluster.spec.mesh, 'rootNamespace', d.linkerd.namespace),
  trustDomain(cluster):: get(cluster.spec.mesh, 'trustDomain', d.mesh.trustDomain),

  // controlPlaneLabels and controlPlanePorts are what a proxy talks to: the
  // identity (8080), destination (8086) and policy (8090) controllers, as Linkerd's
  // control-plane chart labels them.
  controlPlaneLabels(cluster):: { 'linkerd.io/control-plane-ns': $.controlPlaneNamespace(cluster) },
  controlPlanePorts:: [8080, 8086, 8090],

  identity(cluster, ns, sa):: sa + '.' + ns + '.serviceaccount.identity.linkerd.' + $.trustDomain(cluster),

  // access is the Servers' and the namespace's default policy for a team.
  access(team, cluster):: if enforcement.audit(team, cluster, 'mesh') then 'audit' else 'deny',

  namespaceAnnotations(team, cluster)::
    if !$.enabled(cluster) then {}
    else { 'linkerd.io/inject': 'enabled', 'config.linkerd.io/default-inbound-policy': $.access(team, cluster) },

  local ref(kind, name) = { group: policy, kind: kind, name: name },

  local proxyProtocol(app) =
    local p = workload.protocol(app);
    if p == 'grpc' then 'gRPC' else if p == 'tcp' then 'opaque' else 'unknown',

  // matches are an HTTPRoute rule's matches for methods and Istio-style paths
  // ("/v1/*" is a prefix, anything else exact).
  local pathMatch(p) =
    if std.endsWith(p, '/*') then { type: 'PathPrefix', value: std.substr(p, 0, std.length(p) - 1) }
    else if p == '*' then { type: 'PathPrefix', value: '/' }
    else { type: 'Exact', value: p },
  local matches(methods, paths) =
    local ps = if std.length(paths) == 0 then [null] else paths;
    local ms = if std.length(methods) == 0 then [null] else methods;
    [
      { [if p != null then 'path']: pathMatch(p), [if m != null then 'method']: m }
      for p in ps
      for m in ms
    ],

  local mtls(ns, name, app, identities) =
    k.object(policy + '/v1alpha1', 'MeshTLSAuthentication', name, ns, k.labels(ns, app)) {
      spec: { identities: identities },
    },
  local authorization(ns, name, app, target, authn) =
    k.object(policy + '/v1alpha1', 'AuthorizationPolicy', name, ns, k.labels(ns, app)) {
      spec: { targetRef: target, requiredAuthenticationRefs: [authn] },
    },
  local route(ns, name, app, ms) =
    k.object(policy + '/v1beta3', 'HTTPRoute', name, ns, k.labels(ns, app)) {
      spec: { parentRefs: [ref('Server', app)], rules: [{ matches: ms }] },
    },
  // allowed is an HTTPRoute with its authorization and authentication, all of one name.
  local allowed(ns, name, app, ms, identities) = [
    route(ns, name, app, ms),
    mtls(ns, name, app, identities),
    authorization(ns, name, app, ref('HTTPRoute', name), ref('MeshTLSAuthentication', name)),
  ],

  appObjects(team, cluster, graph, app)::
    local ns = team.metadata.name;
    local inbound = intents.incoming(graph, app);
    local http = workload.protocol(app) != 'tcp';
    local restricted(e) = http && (std.length(e.methods) > 0 || std.length(e.paths) > 0);
    local gw = get(cluster.spec.mesh, 'ingressGateway', null);
    // A quarantined app is out of its routes: the gateway may not reach it either.
    local exposed = !quarantine.quarantined(app) && get(app, 'expose', null) != null && gw != null && get(gw, 'serviceAccount', '') != '';
    local gwIdentity = if exposed then $.identity(cluster, gw.namespace, gw.serviceAccount) else null;
    local prefixes = get(get(app, 'expose', {}), 'paths', ['/']);
    local gwRestricted = exposed && http && !std.member(prefixes, '/');
    local uniq(xs) = std.set(xs);
    local free = uniq([$.identity(cluster, e.from.team, e.from.app) for e in inbound if !restricted(e)] +
                      (if exposed && !gwRestricted then [gwIdentity] else []));
    local limited = [e for e in inbound if restricted(e)];
    local server = k.object(policy + '/v1beta3', 'Server', app.name, ns, k.labels(ns, app.name)) {
      spec: {
        // A pod labelled rampart.dev/quarantine is in no Server: the namespace's
        // default inbound policy (deny) refuses every request to it.
        podSelector: quarantine.podSelector(k.selector(app.name)),
        port: workload.portName(app),
        proxyProtocol: proxyProtocol(app),
        accessPolicy: $.access(team, cluster),
      },
    };
    local probes = get(app, 'probes', {});
    local probePaths = std.set([probes[p].path for p in ['liveness', 'readiness', 'startup'] if get(probes, p, null) != null]);
    [server] + (
      if std.length(limited) == 0 && !gwRestricted then (
        if std.length(free) == 0 then []
        else [
          mtls(ns, app.name + '-callers', app.name, free),
          authorization(ns, app.name + '-callers', app.name, ref('Server', app.name), ref('MeshTLSAuthentication', app.name + '-callers')),
        ]
      ) else
        std.flattenArrays([
          allowed(ns, app.name + '-call-' + i, app.name, matches(limited[i].methods, limited[i].paths), [$.identity(cluster, limited[i].from.team, limited[i].from.app)])
          for i in std.range(0, std.length(limited) - 1)
        ]) +
        (if std.length(free) > 0 then allowed(ns, app.name + '-any', app.name, [{ path: { type: 'PathPrefix', value: '/' } }], free) else []) +
        (if gwRestricted then allowed(ns, app.name + '-ingress', app.name, [{ path: { type: 'PathPrefix', value: p } } for p in prefixes], [gwIdentity]) else []) +
        (if std.length(probePaths) == 0 then [] else [
           route(ns, app.name + '-probes', app.name, [{ path: { type: 'Exact', value: p }, method: 'GET' } for p in probePaths]),
           k.object(policy + '/v1alpha1', 'NetworkAuthentication', app.name + '-probes', ns, k.labels(ns, app.name)) {
             spec: { networks: [{ cidr: '0.0.0.0/0' }, { cidr: '::/0' }] },
           },
           authorization(ns, app.name + '-probes', app.name, ref('HTTPRoute', app.name + '-probes'), ref('NetworkAuthentication', app.name + '-probes')),
         ])
    ),

  tenantRules:: [],

  objects(team, cluster, graph):: {
    tenant:
      if !$.enabled(cluster) then []
      else std.flattenArrays([$.appObjects(team, cluster, graph, a) for a in get(team.spec, 'apps', [])]),
    files: {},
  },

  platform(cluster, teams):: {},
}
