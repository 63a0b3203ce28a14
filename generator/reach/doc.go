// Package reach is the reachability evaluator behind `rampart reach`. It takes one
// rendered cluster (a manifest.Cluster, never the specs) and gives a Report: for every
// pair of workloads and every port the destination serves, whether layer 3/4
// (Kubernetes NetworkPolicy and CiliumNetworkPolicy) and layer 7 (Istio
// PeerAuthentication and AuthorizationPolicy) let the source connect, and with which
// HTTP operations; plus what each workload may reach or be reached by outside the
// rendered workloads (ingress controllers, CIDRs, host names).
//
// It evaluates the objects' own semantics, as the CNI and Istio would:
//   - NetworkPolicy: a pod is isolated for a direction once a policy of that type
//     selects it; allows are the union of every selecting policy's rules; a peer's
//     podSelector and namespaceSelector are ANDed, peers and rules are ORed; ports match
//     by number, range or name; policyTypes default as the API server defaults them.
//   - CiliumNetworkPolicy: endpoint selectors with k8s:/any: label sources and the
//     policy's namespace implied; allows add to the NetworkPolicies', deny rules win.
//   - PeerAuthentication: the workload, namespace and root-namespace policies in that
//     order, port-level overrides; a plaintext source meets STRICT and is refused.
//   - AuthorizationPolicy: CUSTOM is reported, DENY first, then "no ALLOW policy
//     allows everything", else the union of the matching ALLOW rules' operations.
//     Rules with HTTP-only fields never match TCP traffic (Istio fails closed).
//
// What it cannot know from the objects (pod IPs, the trust domain, the mesh root
// namespace) comes in Options; ipBlock peers are reported as outside destinations and
// never match a pod.
package reach
