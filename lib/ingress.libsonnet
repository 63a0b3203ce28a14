// Ingress and TLS: an app with `expose` is reachable from outside only through the
// cluster's Traefik, over HTTPS, with a certificate from cert-manager.
//
// Per exposed app, in the team's namespace (file <app>.yaml):
//   - Certificate <app>: the app's hosts, issued by the cluster's ClusterIssuer into
//     Secret <app>-tls;
//   - IngressRoute <app>: the HTTPS entry point only, the app's hosts and path
//     prefixes, the app's Service and port, TLS from Secret <app>-tls, and the
//     middlewares below in this order:
//       <app>-headers        security headers (HSTS, frameDeny, nosniff, referrer
//                            policy, CSP): first, so every response gets them, even
//                            the 403 and 429 of the middlewares after it;
//       <app>-source-ranges  ipAllowList of the cluster's ingress.sourceRanges, if any;
//       <app>-allow-list     ipAllowList of the app's expose.ipAllowList, if any (both
//                            apply when both are set: the app can only narrow);
//       <app>-rate-limit     rate limit per source IP, after the allow lists so
//                            refused sources spend no tokens;
//   - IngressRoute <app>-http and Middleware <app>-https-redirect: the same hosts and
//     paths on the plain-HTTP entry point, answered with a permanent redirect to HTTPS.
// On the platform layer (file cert-manager.yaml): the cluster's ACME ClusterIssuer.
//
// Every reference stays inside the team's namespace (Traefik's allowCrossNamespace
// can stay off). generator/load/check_ingress.go refuses the input that would make
// these objects wrong (hosts, paths, rate limits, CIDRs, headers that loosen).
local d = import 'defaults.libsonnet';
local k = import 'k.libsonnet';
local linkerd = import 'linkerd.libsonnet';
local mesh = import 'mesh.libsonnet';
local workload = import 'workload.libsonnet';

local ingress(cluster) = cluster.spec.ingress;

// hostName expands a single DNS label to <label>.<first domain of the cluster>.
local hostName(cluster, host) =
  if std.length(std.splitLimit(host, '.', 1)) > 1 then host else host + '.' + ingress(cluster).domains[0];

// hosts are the app's host names on this cluster, sorted and without duplicates.
local hosts(cluster, app) = std.uniq(std.sort([hostName(cluster, h) for h in app.expose.hosts]));

// paths are the app's path prefixes, sorted and without duplicates.
local paths(app) = std.uniq(std.sort(k.get(app.expose, 'paths', d.ingress.paths)));

// hostRule matches a host; a wildcard (*.a.example.com) matches exactly one label,
// as its certificate does.
local hostRule(host) =
  if std.startsWith(host, '*.') then
    'HostRegexp(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?' + std.strReplace(std.substr(host, 1, std.length(host) - 1), '.', '\\.') + '$`)'
  else
    'Host(`' + host + '`)';

local anyOf(rules) = if std.length(rules) == 1 then rules[0] else '(' + std.join(' || ', rules) + ')';

// match is the route's rule: any of the hosts and, unless the app takes every path,
// any of the path prefixes.
local match(cluster, app) =
  local ps = paths(app);
  local hostPart = anyOf([hostRule(h) for h in hosts(cluster, app)]);
  if ps == ['/'] then hostPart else hostPart + ' && ' + anyOf(['PathPrefix(`' + p + '`)' for p in ps]);

local entryPoints(cluster) = {
  web: k.get(k.get(ingress(cluster), 'entryPoints', {}), 'web', d.ingress.entryPoints.web),
  websecure: k.get(k.get(ingress(cluster), 'entryPoints', {}), 'websecure', d.ingress.entryPoints.websecure),
};

local secretName(app) = app.name + '-tls';

// headers are the cluster's default security headers, tightened by the app: HSTS
// takes the longer max-age; a referrer policy or CSP of the app applies (load refuses
// a referrer policy looser than the cluster's). Both CSPs are sent as one policy
// list ("a, b"), which browsers enforce together, so an app's CSP can only narrow.
local headers(cluster, app) =
  local def = k.get(ingress(cluster), 'headers', {});
  local own = k.get(app.expose, 'headers', {});
  local hsts = std.max(k.get(def, 'hstsMaxAgeSeconds', d.ingress.headers.hstsMaxAgeSeconds), k.get(own, 'hstsMaxAgeSeconds', 0));
  local clusterCSP = k.get(def, 'contentSecurityPolicy', '');
  local appCSP = k.get(own, 'contentSecurityPolicy', '');
  local csps = [c for c in [clusterCSP] + (if appCSP != clusterCSP then [appCSP] else []) if c != ''];
  {
    stsSeconds: hsts,
    stsIncludeSubdomains: true,
    frameDeny: true,
    contentTypeNosniff: true,
    referrerPolicy: k.get(own, 'referrerPolicy', k.get(def, 'referrerPolicy', d.ingress.headers.referrerPolicy)),
    [if std.length(csps) > 0 then 'contentSecurityPolicy']: std.join(', ', csps),
  };

local rateLimit(cluster, app) =
  local rl = k.get(app.expose, 'rateLimit', ingress(cluster).rateLimit);
  {
    average: rl.average,
    burst: rl.burst,
    period: k.get(rl, 'period', d.ingress.rateLimit.period),
    // No depth and no excluded IPs: Traefik counts per the connection's remote
    // address; IPv6 clients are counted per subnet, since one holds a whole /64.
    sourceCriterion: { ipStrategy: { ipv6Subnet: d.ingress.rateLimit.ipv6Subnet } },
  };

local middleware(team, app, suffix, spec) =
  k.object('traefik.io/v1alpha1', 'Middleware', app.name + '-' + suffix, team.metadata.name, k.labels(team.metadata.name, app.name)) {
    spec: spec,
  };

// middlewares are the HTTPS route's middlewares, in the order the route runs them.
local middlewares(team, cluster, app) =
  local clusterRanges = k.get(ingress(cluster), 'sourceRanges', []);
  local appRanges = k.get(app.expose, 'ipAllowList', []);
  [middleware(team, app, 'headers', { headers: headers(cluster, app) })] +
  (if std.length(clusterRanges) > 0 then [middleware(team, app, 'source-ranges', { ipAllowList: { sourceRange: clusterRanges } })] else []) +
  (if std.length(appRanges) > 0 then [middleware(team, app, 'allow-list', { ipAllowList: { sourceRange: appRanges } })] else []) +
  [middleware(team, app, 'rate-limit', { rateLimit: rateLimit(cluster, app) })];

local service(app) = {
  kind: 'Service',
  name: app.name,
  port: app.port,
  // gRPC needs HTTP/2 to the pod; the app serves it in cleartext behind Traefik.
  [if workload.protocol(app) == 'grpc' then 'scheme']: 'h2c',
};

local route(team, cluster, app, name, entryPoint, mws, tls) =
  k.object('traefik.io/v1alpha1', 'IngressRoute', name, team.metadata.name, k.labels(team.metadata.name, app.name)) {
    spec: {
      entryPoints: [entryPoint],
      routes: [{
        kind: 'Rule',
        match: match(cluster, app),
        middlewares: [{ name: m.metadata.name } for m in mws],
        services: [service(app)],
      }],
      [if tls then 'tls']: { secretName: secretName(app) },
    },
  };

local certificate(team, cluster, app) =
  local tls = cluster.spec.tls;
  k.object('cert-manager.io/v1', 'Certificate', app.name, team.metadata.name, k.labels(team.metadata.name, app.name)) {
    spec: {
      secretName: secretName(app),
      dnsNames: hosts(cluster, app),
      issuerRef: { group: 'cert-manager.io', kind: 'ClusterIssuer', name: tls.issuer.name },
      duration: k.get(tls, 'duration', d.ingress.certificate.duration),
      renewBefore: k.get(tls, 'renewBefore', d.ingress.certificate.renewBefore),
      privateKey: d.ingress.certificate.privateKey,
    },
  };

local exposed(team, cluster, app) =
  local mws = middlewares(team, cluster, app);
  local redirect = middleware(team, app, 'https-redirect', { redirectScheme: { scheme: 'https', permanent: true } });
  [certificate(team, cluster, app)] +
  mws +
  [route(team, cluster, app, app.name, entryPoints(cluster).websecure, mws, true)] +
  // The redirect route needs a service to be valid; the middleware answers first,
  // so no plain-HTTP request reaches the app.
  [redirect, route(team, cluster, app, app.name + '-http', entryPoints(cluster).web, [redirect], false)];

// solver is how the ClusterIssuer proves control of a name: HTTP-01 through Traefik
// (cert-manager's solver Ingress gets the Traefik ingress class) or DNS-01 at the
// cluster's DNS provider. Either way only for the cluster's own domains.
local solver(cluster) =
  local issuer = cluster.spec.tls.issuer;
  local dns01 = k.get(issuer, 'dns01', {});
  { selector: { dnsZones: ingress(cluster).domains } } +
  if issuer.solver == 'dns01' then {
    dns01: if dns01.provider == 'azureDNS' then {
      azureDNS: {
        subscriptionID: dns01.subscriptionID,
        resourceGroupName: dns01.resourceGroup,
        [if k.get(dns01, 'zone', '') != '' then 'hostedZoneName']: dns01.zone,
        environment: 'AzurePublicCloud',
      },
    } else {
      cloudflare: { apiTokenSecretRef: { name: dns01.secretName, key: d.ingress.cloudflareTokenKey } },
    },
  } else {
    http01: { ingress: {
      ingressClassName: d.ingress.ingressClass,
      // Keep the solver pod out of a sidecar mesh: the namespace's allow-nothing
      // AuthorizationPolicy would refuse the ACME server's challenge request.
      // On Linkerd, the namespace's default inbound policy deny would refuse it too.
      [if mesh.sidecars(cluster) || linkerd.enabled(cluster) then 'podTemplate']: { metadata: {
        [if mesh.sidecars(cluster) then 'labels']: { 'sidecar.istio.io/inject': 'false' },
        [if linkerd.enabled(cluster) then 'annotations']: { 'linkerd.io/inject': 'disabled' },
      } },
    } },
  };

{
  tenantRules:: [
    { apiGroups: ['traefik.io'], resources: ['ingressroutes', 'middlewares'] },
    { apiGroups: ['cert-manager.io'], resources: ['certificates'] },
  ],

  objects(team, cluster, intents):: {
    tenant: [],
    files: {
      [app.name + '.yaml']: exposed(team, cluster, app)
      for app in team.spec.apps
      // A quarantined app is taken out of its routes (quarantine.libsonnet).
      if k.get(app, 'expose', null) != null && k.get(app, 'quarantine', null) == null
    },
  },

  // platform renders the cluster's ClusterIssuer. Its ACME server comes from
  // cluster.yaml, so a development cluster names the staging directory there.
  platform(cluster, teams):: {
    'cert-manager.yaml': [
      k.object('cert-manager.io/v1', 'ClusterIssuer', cluster.spec.tls.issuer.name, labels={ 'app.kubernetes.io/managed-by': 'rampart' }) {
        spec: {
          acme: {
            server: cluster.spec.tls.issuer.server,
            email: cluster.spec.tls.issuer.email,
            privateKeySecretRef: { name: cluster.spec.tls.issuer.name + '-account-key' },
            solvers: [solver(cluster)],
          },
        },
      },
    ],
  },
}
