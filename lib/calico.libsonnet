// Calico (cni calico): the platform's cluster-wide baseline and the staged policies
// of teams in network audit.
//
// Baseline (platform layer, platform/network.yaml), projectcalico.org/v3 objects
// applied through the Calico API server (or as native v3 CRDs), never as the
// crd.projectcalico.org storage CRDs:
//   - GlobalNetworkPolicies in Calico's built-in kube-admin tier (order 1000, before
//     the default tier where Kubernetes NetworkPolicies are evaluated; defaultAction
//     Pass, so an endpoint its policies select but no rule decides goes on to the
//     default tier and the baseline never isolates a pod by itself). The tier always
//     exists (Calico creates and protects it), so Flux applies the policies in any
//     order; a tier of Rampart's own would have to exist before them, and Flux
//     applies GlobalNetworkPolicy before Tier.
//   - explicitly ordered (calico.order, default 100, then +1), selecting every pod of
//     every team namespace (the namespace label Rampart puts on them): the first
//     denies the cloud metadata endpoint, the second the cluster's shared egress
//     denies (calico.denyEgressCIDRs), held in one GlobalNetworkSet so a long list is
//     one object and one selector. A Deny here wins over every allow of a later
//     tier, Rampart's or anyone's.
//
// Audit: a team whose network enforcement is audit gets each of its NetworkPolicies
// as a StagedKubernetesNetworkPolicy with the same spec. Calico evaluates staged
// policies and reports in its flow logs what they would deny, and enforces nothing
// of them; the baseline keeps enforcing.
local d = import 'defaults.libsonnet';
local enforcement = import 'enforcement.libsonnet';
local k = import 'k.libsonnet';

local get = k.get;
local apiVersion = 'projectcalico.org/v3';
local labels = { 'app.kubernetes.io/managed-by': 'rampart' };
local tier = 'kube-admin';
local setLabel = 'rampart.dev/network-set';

{
  enabled(cluster):: get(cluster.spec, 'cni', '') == 'calico',

  tier:: tier,

  // stage turns a team's NetworkPolicies into staged ones when its network
  // enforcement is audit on a Calico cluster.
  stage(team, cluster, objs)::
    if !$.enabled(cluster) || !enforcement.audit(team, cluster, 'network') then objs
    else [
      if o.kind == 'NetworkPolicy' then o { apiVersion: apiVersion, kind: 'StagedKubernetesNetworkPolicy' } else o
      for o in objs
    ],

  local spec(cluster) = get(cluster.spec, 'calico', {}),
  local order(cluster) = get(spec(cluster), 'order', d.calico.order),
  local teams = 'has(' + d.teamLabel + ')',

  local gnp(name, o, egress, description) =
    k.object(apiVersion, 'GlobalNetworkPolicy', tier + '.' + name, labels=labels) {
      metadata+: { annotations: { 'rampart.dev/description': description } },
      spec: {
        tier: tier,
        order: o,
        namespaceSelector: teams,
        selector: 'all()',
        types: ['Egress'],
        egress: egress,
      },
    },

  baseline(cluster)::
    local cidrs = get(spec(cluster), 'denyEgressCIDRs', []);
    [
      gnp('rampart-deny-cloud-metadata', order(cluster), [{ action: 'Deny', destination: { nets: [d.cloudMetadata.address + '/32'] } }],
          'Team pods never reach the cloud metadata endpoint ' + d.cloudMetadata.address + ' (instance metadata, managed identity tokens).'),
    ] + (
      if std.length(cidrs) == 0 then []
      else [
        k.object(apiVersion, 'GlobalNetworkSet', 'rampart-shared-egress-deny', labels=labels { [setLabel]: 'shared-egress-deny' }) {
          spec: { nets: cidrs },
        },
        gnp('rampart-deny-shared-egress', order(cluster) + 1, [{ action: 'Deny', destination: { selector: setLabel + " == 'shared-egress-deny'" } }],
            "Team pods never reach the platform's shared egress denies (calico.denyEgressCIDRs in cluster.yaml)."),
      ]
    ),
}
