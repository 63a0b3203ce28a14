// Package judge checks rendered Kubernetes objects against real judges: a real
// kube-apiserver backed by a real etcd, both started on 127.0.0.1 for the
// test, with the upstream CRDs of every project Rampart renders for (Flux,
// Traefik, cert-manager, Istio, Kyverno, Cilium) installed and the PodSecurity
// admission plugin on.
//
// It takes objects, each with the file it came from ([ReadTree] reads a
// rendered cluster directory), and gives a [Result] for every object the
// server rejected or warned about. Namespaces, ServiceAccounts and
// PriorityClasses are created for real, because admission needs them to exist;
// everything else goes through server-side apply with dryRun=All and strict
// field validation, so nothing but those is stored. Every pod template is also
// dry-run created as a Pod in its namespace, so the namespace's Pod Security
// enforce level judges it exactly as the cluster will.
//
// For Flux it also runs the real source-controller and kustomize-controller
// as local processes against such a server ([StartFlux], under Flux's
// multi-tenancy lockdown flags), serves a rendered tree to them over Git's
// smart HTTP with basic auth ([StartGitServer]), and reads back the API
// server's audit log ([Options.Audit]), so a test can see who applied what and
// whether anything was refused.
//
// The binaries come from .ci/install-judges (make judges); the CRDs from
// .ci/update-crds, which copies them from the upstream Go modules into crds/.
package judge
