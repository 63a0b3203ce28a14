// Enforcement (audit-first adoption): whether a team's network, mesh and admission
// policies block what they do not allow (enforce) or only report it (audit). A
// layer's mode is the team's override for it (spec.enforcement.<layer>), else the
// team's spec.enforcement.mode, else the cluster's spec.enforcement, else enforce:
// the same rule as spec.Effective in Go. Each layer renders audit with its engine's
// own means:
//   network   - Calico: StagedKubernetesNetworkPolicy (projectcalico.org/v3) in place
//               of each NetworkPolicy; Cilium and other CNIs have no per-policy audit
//               (Cilium's policy-audit-mode is agent- or endpoint-wide), so the
//               NetworkPolicies keep enforcing there;
//   mesh      - Istio: istio.io/dry-run on every AuthorizationPolicy, PeerAuthentication
//               PERMISSIVE; Linkerd: default-inbound-policy and Servers in audit;
//   admission - Kyverno: the team's namespace is judged by the [Audit] copies of the
//               policies (lib/admission.libsonnet).
local k = import 'k.libsonnet';

local get = k.get;

{
  // mode is a layer's enforcement for a team on a cluster: 'audit' or 'enforce'.
  mode(team, cluster, layer)::
    local t = get(team.spec, 'enforcement', {});
    local o = get(t, layer, '');
    if o != '' then o
    else if get(t, 'mode', '') != '' then t.mode
    else get(cluster.spec, 'enforcement', 'enforce'),

  audit(team, cluster, layer):: $.mode(team, cluster, layer) == 'audit',

  // label is the namespace label the platform layer's policies read a team's
  // admission enforcement from (lib/admission.libsonnet).
  label:: 'rampart.dev/admission-enforcement',

  // annotation is the Namespace annotation that names the layers in audit
  // (lib/namespace.libsonnet); the review reads the move to enforce from it.
  annotation:: 'rampart.dev/enforcement',
}
