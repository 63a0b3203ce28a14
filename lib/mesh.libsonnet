// Mesh (layer 7): Istio mutual TLS and authorization on clusters with mesh.type istio.
// Per team namespace: PeerAuthentication STRICT, an allow-nothing AuthorizationPolicy,
// and per callee app an ALLOW policy whose sources are its consenting callers'
// service-account identities (<trust domain>/ns/<ns>/sa/<app>) and whose operations
// are the ports, methods and paths of their calls; the mesh ingress gateway's identity
// is allowed for exposed apps. Mesh-wide STRICT mTLS in the root namespace is the
// platform layer's. The namespace layer asks namespaceLabels for injection labels.
//
// Like the network layer, every team object goes to the tenant layer, out of reach of
// the team's patches and reconciler.
local d = import 'defaults.libsonnet';
local enforcement = import 'enforcement.libsonnet';
local k = import 'k.libsonnet';
local intents = import 'intents.libsonnet';
local quarantine = import 'quarantine.libsonnet';

local get = k.get;
local apiVersion = 'security.istio.io/v1';

{
  enabled(cluster):: get(get(cluster.spec, 'mesh', {}), 'type', 'none') == 'istio',

  // sidecars says whether meshed pods run an Envoy sidecar (and so need istiod).
  sidecars(cluster):: self.enabled(cluster) && get(cluster.spec.mesh, 'mode', 'sidecar') == 'sidecar',

  rootNamespace(cluster):: get(cluster.spec.mesh, 'rootNamespace', d.mesh.rootNamespace),
  trustDomain(cluster):: get(cluster.spec.mesh, 'trustDomain', d.mesh.trustDomain),
  ingressGateway(cluster)::
    if !self.enabled(cluster) then null else get(cluster.spec.mesh, 'ingressGateway', null),

  // istiodLabels and istiodPorts are what a sidecar talks to: istiod's xDS and
  // certificate service (15012, TLS) as installed by Istio's charts.
  istiodLabels:: { app: 'istiod' },
  istiodPorts:: [15012],

  namespaceLabels(cluster)::
    if !self.enabled(cluster) then {}
    else
      local mesh = cluster.spec.mesh;
      if get(mesh, 'mode', 'sidecar') == 'ambient' then { 'istio.io/dataplane-mode': 'ambient' }
      else if get(mesh, 'revision', '') != '' then { 'istio.io/rev': mesh.revision }
      else { 'istio-injection': 'enabled' },

  principal(cluster, ns, sa):: self.trustDomain(cluster) + '/ns/' + ns + '/sa/' + sa,

  peerAuthentication(name, ns, labels):: k.object(apiVersion, 'PeerAuthentication', name, ns, labels) {
    spec: { mtls: { mode: 'STRICT' } },
  },

  // operation is what a call may do: its port and, for HTTP and gRPC callees, its
  // methods and paths (Istio ignores an ALLOW rule with HTTP fields on TCP traffic).
  local operation(e) = {
    ports: [std.toString(e.to.port)],
    [if e.to.protocol != 'tcp' && std.length(e.methods) > 0 then 'methods']: e.methods,
    [if e.to.protocol != 'tcp' && std.length(e.paths) > 0 then 'paths']: e.paths,
  },

  // exposedPaths are an exposed HTTP app's routed prefixes, as Istio paths.
  local exposedPaths(app) =
    local prefixes = get(get(app, 'expose', {}), 'paths', ['/']);
    if std.member(prefixes, '/') then []
    else std.flattenArrays([[p, std.rstripChars(p, '/') + '/*'] for p in prefixes]),

  appPolicy(team, cluster, graph, app)::
    local ns = team.metadata.name;
    local inbound = intents.incoming(graph, app);
    local gw = self.ingressGateway(cluster);
    local exposed = get(app, 'expose', null) != null;
    local http = get(app, 'protocol', 'http') == 'http';
    local paths = if http && exposed then exposedPaths(app) else [];
    local rules =
      [
        {
          from: [{ source: { principals: [$.principal(cluster, e.from.team, e.from.app)] } }],
          to: [{ operation: operation(e) }],
        }
        for e in inbound
      ] + (
        if exposed && gw != null && get(gw, 'serviceAccount', '') != '' then [{
          from: [{ source: { principals: [$.principal(cluster, gw.namespace, gw.serviceAccount)] } }],
          to: [{ operation: { ports: [std.toString(app.port)], [if std.length(paths) > 0 then 'paths']: paths } }],
        }] else []
      );
    // A quarantined app's DENY policy (quarantine.libsonnet) takes this one's place.
    if std.length(rules) == 0 || quarantine.quarantined(app) then []
    else [
      k.object(apiVersion, 'AuthorizationPolicy', app.name, ns, k.labels(ns, app.name)) {
        spec: {
          selector: { matchLabels: k.selector(app.name) },
          action: 'ALLOW',
          rules: rules,
        },
      },
    ],

  tenantRules:: [],

  // dryRun marks an AuthorizationPolicy as Istio's dry run: evaluated and logged
  // (istio_dry_run_action_* metadata, the proxy's shadow-rules stats), never enforced.
  local dryRun(o) =
    if o.kind == 'AuthorizationPolicy' then o { metadata+: { annotations+: { 'istio.io/dry-run': 'true' } } } else o,

  // objects are the namespace's mesh policies; when the team's mesh enforcement is
  // audit (lib/enforcement.libsonnet) its AuthorizationPolicies run as dry runs and
  // its PeerAuthentication is PERMISSIVE (Istio has no dry run for it), so plaintext
  // callers keep working while the would-be denials are observed.
  objects(team, cluster, graph)::
    local ns = team.metadata.name;
    local audit = enforcement.audit(team, cluster, 'mesh');
    {
      tenant:
        if !$.enabled(cluster) then []
        else [
          if audit then dryRun(o) else o
          for o in [
          $.peerAuthentication('default', ns, k.labels(ns)) +
          (if audit then { spec: { mtls: { mode: 'PERMISSIVE' } } } else {}),
          // An ALLOW policy with no rules matches nothing: with it, a request no other
          // policy allows is denied.
          k.object(apiVersion, 'AuthorizationPolicy', 'allow-nothing', ns, k.labels(ns)) { spec: {} },
        ] + std.flattenArrays([$.appPolicy(team, cluster, graph, a) for a in get(team.spec, 'apps', [])])],
      files: {},
    },

  platform(cluster, teams)::
    if !$.enabled(cluster) then {}
    else { 'mesh.yaml': [$.peerAuthentication('default', $.rootNamespace(cluster), { 'app.kubernetes.io/managed-by': 'rampart' })] },
}
