// Quarantine: cut an app, or one pod, off the network while its pods keep running
// for forensics.
//
// A pod labelled rampart.dev/quarantine (kubectl label pod … rampart.dev/quarantine=true)
// is cut off at once: every allow Rampart renders (NetworkPolicy, CiliumNetworkPolicy)
// selects only pods without the label, as subjects and as peers, so the namespace's
// default deny is all that selects it, DNS included; on meshed clusters the
// namespace's deny-quarantined AuthorizationPolicy refuses every request to it.
//
// An app with quarantine in its spec keeps its Deployment (its pods are not
// restarted: the pod template does not change) and loses every allow: the network
// layer renders its NetworkPolicy with no rules (DNS egress stays, from the
// namespace's baseline), no host-name egress, and on Cilium clusters a
// CiliumNetworkPolicy of deny rules (no ingress from anything but the node, for its
// probes; no egress but to the cluster's DNS namespace), which no allow can reopen;
// the mesh layer renders a DENY AuthorizationPolicy in place of its ALLOW; the
// ingress layer drops its routes and certificate. Its Deployment carries the
// rampart.dev/quarantine annotation (reason and ticket), which `rampart reach` shows.
local d = import 'defaults.libsonnet';
local k = import 'k.libsonnet';

local get = k.get;
local apps(team) = get(team.spec, 'apps', []);

local cilium(cluster) = get(cluster.spec, 'cni', '') == 'cilium';
local meshed(cluster) = get(get(cluster.spec, 'mesh', {}), 'type', 'none') == 'istio';

{
  label:: d.quarantine.label,

  quarantined(app):: get(app, 'quarantine', null) != null,

  // notQuarantined is the selector term of every allow: pods without the label.
  notQuarantined:: [{ key: d.quarantine.label, operator: 'DoesNotExist' }],

  // podSelector selects the pods with these labels (every pod for {}) that are not
  // quarantined.
  podSelector(labels):: {
    [if std.length(labels) > 0 then 'matchLabels']: labels,
    matchExpressions: $.notQuarantined,
  },

  // annotations mark a quarantined app's Deployment (not its pod template, so the
  // pods are kept).
  annotations(app)::
    if !$.quarantined(app) then {}
    else
      local q = app.quarantine;
      { [d.quarantine.annotation]: q.reason + (if get(q, 'ticket', '') != '' then ' (' + q.ticket + ')' else '') },

  // ciliumDeny is a quarantined app's Cilium deny rules. It turns no default deny on
  // (the namespace's NetworkPolicies isolate the pods); its denies win over any allow.
  ciliumDeny(team, cluster, app)::
    local ns = team.metadata.name;
    k.object('cilium.io/v2', 'CiliumNetworkPolicy', app.name, ns, k.labels(ns, app.name)) {
      metadata+: { annotations: $.annotations(app) },
      spec: {
        description: 'Quarantined: ' + app.quarantine.reason,
        endpointSelector: { matchLabels: k.selector(app.name) },
        enableDefaultDeny: { ingress: false, egress: false },
        ingressDeny: [
          { fromEntities: ['world'] },
          { fromEndpoints: [{ matchExpressions: [{ key: 'k8s:io.kubernetes.pod.namespace', operator: 'Exists' }] }] },
        ],
        egressDeny: [
          { toEntities: ['world'] },
          { toEndpoints: [{ matchExpressions: [{ key: 'k8s:io.kubernetes.pod.namespace', operator: 'NotIn', values: [cluster.spec.dns.namespace] }] }] },
        ],
      },
    },

  // istioDeny refuses every request to a quarantined app.
  istioDeny(team, app)::
    local ns = team.metadata.name;
    k.object('security.istio.io/v1', 'AuthorizationPolicy', app.name, ns, k.labels(ns, app.name)) {
      metadata+: { annotations: $.annotations(app) },
      spec: { selector: { matchLabels: k.selector(app.name) }, action: 'DENY', rules: [{}] },
    },

  // istioLabelDeny refuses every request to a labelled pod of the namespace. (An
  // AuthorizationPolicy's selector has no "does not exist", so the mesh's ALLOW
  // policies cannot leave labelled pods out; a DENY wins over them.)
  istioLabelDeny(team)::
    local ns = team.metadata.name;
    k.object('security.istio.io/v1', 'AuthorizationPolicy', 'deny-quarantined', ns, k.labels(ns)) {
      spec: { selector: { matchLabels: { [d.quarantine.label]: 'true' } }, action: 'DENY', rules: [{}] },
    },

  tenantRules:: [],

  objects(team, cluster, intents):: {
    tenant:
      (if cilium(cluster) then [$.ciliumDeny(team, cluster, a) for a in apps(team) if $.quarantined(a)] else []) +
      (if meshed(cluster) then [$.istioLabelDeny(team)] + [$.istioDeny(team, a) for a in apps(team) if $.quarantined(a)] else []),
    files: {},
  },

  platform(cluster, teams):: {},
}
