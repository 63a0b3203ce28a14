// Network segmentation (layer 3/4): per team namespace a default deny for ingress and
// egress, DNS egress, and per app the allows its declared intents need: ingress from
// the ingress controller for exposed apps, east-west allows for every call the callee
// consents to (an egress rule on the caller, an ingress rule on the callee, pod- and
// namespace-selected, on that port only), egress to CIDRs, and host-name egress as a
// CiliumNetworkPolicy with toFQDNs on Cilium clusters.
//
// Every object goes to the tenant layer, applied by the cluster's reconciler: the
// team's patches never reach it and the team's reconciler is granted no network kinds,
// so neither can widen a rule, drop the baseline, or open egress the platform refuses.
local d = import 'defaults.libsonnet';
local k = import 'k.libsonnet';
local identity = import 'identity.libsonnet';
local calico = import 'calico.libsonnet';
local linkerd = import 'linkerd.libsonnet';
local mesh = import 'mesh.libsonnet';
local quarantine = import 'quarantine.libsonnet';

local nsLabel = 'kubernetes.io/metadata.name';

// Names of the namespace baseline. Per-app objects are named after the app, so an app
// cannot be called like these (the verify stage refuses an object rendered twice).
local names = {
  defaultDeny: 'default-deny',
  dns: 'allow-dns',
  acmeSolver: 'allow-acme-http01-solver',
  mesh: 'allow-mesh',
};

local get = k.get;

// uniq drops repeated elements and keeps the first of each, in order (two calls of
// one caller to one callee differ in methods and paths, not in their network rule).
local uniq(xs) = std.foldl(function(acc, x) if std.member(acc, x) then acc else acc + [x], xs, []);

local apps(team) = get(team.spec, 'apps', []);

// ipv4 is an IPv4 address as a number (exact in a double), or null for anything else.
local ipv4(a) =
  local o = std.split(a, '.');
  if std.length(o) != 4 || std.length(std.splitLimit(a, ':', 1)) > 1 then null
  else std.foldl(function(acc, x) acc * 256 + std.parseInt(x), o, 0);

// contains says whether an IPv4 CIDR holds an IPv4 address (an IPv6 CIDR holds none).
local contains(cidr, address) =
  local parts = std.split(cidr, '/');
  local net = ipv4(parts[0]);
  local bits = std.parseInt(parts[1]);
  local size = std.pow(2, 32 - bits);
  net != null && std.floor(net / size) == std.floor(ipv4(address) / size);

// metadataCIDR is the cloud metadata endpoint as a /32.
local metadataCIDR = d.cloudMetadata.address + '/32';

{
  names:: names,

  // hostEgress and cidrEgress split an app's egress by kind; the host egress its
  // workload identity needs counts as declared. A quarantined app has none.
  hostEgress(app)::
    if quarantine.quarantined(app) then []
    else [e for e in get(app, 'egress', []) if get(e, 'host', '') != ''] + identity.egress(app),
  cidrEgress(app)::
    if quarantine.quarantined(app) then []
    else [e for e in get(app, 'egress', []) if get(e, 'cidr', '') != ''],

  cilium(cluster):: get(cluster.spec, 'cni', '') == 'cilium',

  local ports(ps) = [{ protocol: get(p, 'protocol', 'TCP'), port: p.port } for p in ps],
  local tcp(port) = [{ protocol: 'TCP', port: port }],
  local nsSelector(name) = { matchLabels: { [nsLabel]: name } },
  local podsOf(ns, labels) = { namespaceSelector: nsSelector(ns), podSelector: { matchLabels: labels } },
  // appPeer is an app's pods as a peer: those not quarantined.
  local appPeer(ns, app) = { namespaceSelector: nsSelector(ns), podSelector: quarantine.podSelector(k.selector(app)) },

  // ipBlock is an egress peer for a CIDR; one that holds the cloud metadata endpoint
  // carries it as an except, so no CIDR a team asks for reaches the node's metadata.
  ipBlock(cidr):: {
    ipBlock: { cidr: cidr } + (
      if cidr != metadataCIDR && contains(cidr, d.cloudMetadata.address) then { except: [metadataCIDR] } else {}
    ),
  },

  policy(name, ns, spec)::
    k.object('networking.k8s.io/v1', 'NetworkPolicy', name, ns, k.labels(ns)) { spec: spec },

  // baseline is the namespace's default deny, DNS egress and, when the mesh is on,
  // what sidecars need to start.
  baseline(team, cluster)::
    local ns = team.metadata.name;
    local dns = cluster.spec.dns;
    [
      $.policy(names.defaultDeny, ns, {
        podSelector: {},
        policyTypes: ['Ingress', 'Egress'],
      }),
      $.policy(names.dns, ns, {
        podSelector: quarantine.podSelector({}),
        policyTypes: ['Egress'],
        egress: [{
          to: [podsOf(dns.namespace, dns.podLabels)],
          ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }],
        }],
      }),
    ] + (
      if mesh.sidecars(cluster) then [
        $.policy(names.mesh, ns, {
          podSelector: quarantine.podSelector({}),
          policyTypes: ['Egress'],
          egress: [{
            to: [podsOf(mesh.rootNamespace(cluster), mesh.istiodLabels)],
            ports: [{ protocol: 'TCP', port: p } for p in mesh.istiodPorts],
          }],
        }),
      ] else if linkerd.enabled(cluster) then [
        $.policy(names.mesh, ns, {
          podSelector: quarantine.podSelector({}),
          policyTypes: ['Egress'],
          egress: [{
            to: [podsOf(linkerd.controlPlaneNamespace(cluster), linkerd.controlPlaneLabels(cluster))],
            ports: [{ protocol: 'TCP', port: p } for p in linkerd.controlPlanePorts],
          }],
        }),
      ] else []
    ),

  // ingressSources are the peers that reach an exposed app from outside the cluster:
  // the ingress controller and, when the mesh has one, its ingress gateway.
  ingressSources(cluster)::
    local ing = cluster.spec.ingress;
    local gw = mesh.ingressGateway(cluster);
    [podsOf(ing.namespace, ing.podLabels)] +
    (if gw == null then []
     else [{ namespaceSelector: nsSelector(gw.namespace), podSelector: { matchLabels: get(gw, 'podLabels', {}) } }]),

  // fallbackCIDRs are where host-name egress goes on a cluster that cannot enforce
  // host names (the loader refuses host-name egress there without them).
  fallbackCIDRs(cluster):: get(get(cluster.spec, 'egress', {}), 'fqdnFallbackCIDRs', []),

  // appPolicy is one app's allows: ingress from the ingress controller and from every
  // consenting caller, egress to every callee, to CIDRs, and (off Cilium) to the
  // platform's fallback CIDRs for host names. unit holds what the team's apps share on
  // the cluster (objects, below); the edges are the intents' (intents.libsonnet), of
  // which this layer reads the peers and the port.
  local appPolicy(unit, app) =
    local cut = quarantine.quarantined(app);
    local ingress = if cut then [] else
      (if get(app, 'expose', null) != null then [{ from: unit.ingressSources, ports: tcp(app.port) }] else []) +
      [
        { from: [appPeer(e.from.team, e.from.app)], ports: tcp(e.to.port) }
        for e in get(unit.incoming, app.name, [])
      ];
    local egress = if cut then [] else
      [
        { to: [appPeer(e.to.team, e.to.app)], ports: tcp(e.to.port) }
        for e in get(unit.outgoing, app.name, [])
      ] +
      [
        { to: [$.ipBlock(e.cidr)], ports: ports(e.ports) }
        for e in $.cidrEgress(app)
      ] +
      (if std.length(unit.fallback) == 0 then [] else [
         { to: unit.fallback, ports: ports(h.ports) }
         for h in $.hostEgress(app)
       ]);
    $.policy(app.name, unit.ns, {
      podSelector: quarantine.podSelector(k.selector(app.name)),
      policyTypes: ['Ingress', 'Egress'],
      [if std.length(ingress) > 0 then 'ingress']: uniq(ingress),
      [if std.length(egress) > 0 then 'egress']: uniq(egress),
    }),

  // fqdnPolicy is an app's host-name egress on a Cilium cluster: toFQDNs rules, and
  // the DNS rule through Cilium's DNS proxy that lets Cilium learn the names' addresses.
  fqdnPolicy(team, cluster, app)::
    local ns = team.metadata.name;
    local dns = cluster.spec.dns;
    local hosts = $.hostEgress(app);
    local fqdn(h) = if std.length(std.splitLimit(h, '*', 1)) > 1 then { matchPattern: h } else { matchName: h };
    local ciliumPorts(ps) = [{ port: std.toString(p.port), protocol: get(p, 'protocol', 'TCP') } for p in ps];
    k.object('cilium.io/v2', 'CiliumNetworkPolicy', app.name, ns, k.labels(ns, app.name)) {
      spec: {
        endpointSelector: quarantine.podSelector(k.selector(app.name)),
        egress: [
          {
            toEndpoints: [{
              matchLabels: { 'k8s:io.kubernetes.pod.namespace': dns.namespace } +
                           { ['k8s:' + l]: dns.podLabels[l] for l in std.objectFields(dns.podLabels) },
            }],
            toPorts: [{
              ports: [{ port: '53', protocol: 'ANY' }],
              rules: { dns: [{ matchPattern: '*' }] },
            }],
          },
        ] + [
          { toFQDNs: [fqdn(h.host)], toPorts: [{ ports: ciliumPorts(h.ports) }] }
          for h in hosts
        ],
      },
    },

  tenantRules:: [],

  // acmeSolver admits the ingress controller to cert-manager's HTTP-01 solver pods,
  // which cert-manager starts in the namespace of each Certificate while it is being
  // issued; the namespace's default deny would otherwise fail every challenge.
  acmeSolver(team, cluster)::
    local exposed = [a for a in apps(team) if get(a, 'expose', null) != null];
    if std.length(exposed) == 0 || cluster.spec.tls.issuer.solver != 'http01' then []
    else [
      $.policy(names.acmeSolver, team.metadata.name, {
        podSelector: quarantine.podSelector({ 'acme.cert-manager.io/http01-solver': 'true' }),
        policyTypes: ['Ingress'],
        ingress: [{ from: $.ingressSources(cluster), ports: tcp(8089) }],
      }),
    ],

  // The NetworkPolicies are staged (Calico) when the team's network enforcement is
  // audit; see lib/enforcement.libsonnet.
  objects(team, cluster, graph)::
    local cilium = $.cilium(cluster);
    local unit = {
      ns: team.metadata.name,
      ingressSources: $.ingressSources(cluster),
      // The fallback CIDRs as egress peers, where host names cannot be enforced.
      fallback: if cilium then [] else [$.ipBlock(c) for c in $.fallbackCIDRs(cluster)],
      incoming: get(graph, 'incoming', {}),
      outgoing: get(graph, 'outgoing', {}),
    };
    {
      tenant: calico.stage(team, cluster, $.baseline(team, cluster) + $.acmeSolver(team, cluster) +
                                          [appPolicy(unit, a) for a in apps(team)]) +
              (if cilium then
                 [$.fqdnPolicy(team, cluster, a) for a in apps(team) if std.length($.hostEgress(a)) > 0]
               else []),
      files: {},
    },

  // metadataDeny is, on Cilium clusters, a clusterwide deny of the cloud metadata
  // endpoint for every pod of every team namespace (selected by the label Rampart puts
  // on them). A deny wins over every allow in Cilium, so no policy applied later,
  // Rampart's or anyone's, reopens it. It enforces no default deny of its own: the
  // namespaces' NetworkPolicies do that.
  metadataDeny(cluster)::
    k.object('cilium.io/v2', 'CiliumClusterwideNetworkPolicy', d.cloudMetadata.policyName, labels={ 'app.kubernetes.io/managed-by': 'rampart' }) {
      spec: {
        description: 'Team pods never reach the cloud metadata endpoint ' + d.cloudMetadata.address + ' (instance metadata, managed identity tokens).',
        endpointSelector: {
          matchExpressions: [{ key: 'k8s:io.cilium.k8s.namespace.labels.' + d.teamLabel, operator: 'Exists' }],
        },
        enableDefaultDeny: { egress: false, ingress: false },
        egressDeny: [{ toCIDRSet: [{ cidr: metadataCIDR }] }],
      },
    },

  platform(cluster, teams)::
    if $.cilium(cluster) then { 'network.yaml': [$.metadataDeny(cluster)] }
    else if calico.enabled(cluster) then { 'network.yaml': calico.baseline(cluster) }
    else {},
}
