package reach

import (
	"cmp"
	"context"
	"encoding/json/jsontext"
	jsonv2 "encoding/json/v2"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"

	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/rampart-gitops/rampart/generator/internal/defaults"
	"github.com/rampart-gitops/rampart/generator/manifest"
)

// Options are what the rendered objects do not say.
type Options struct {
	// TrustDomain is the mesh's SPIFFE trust domain (default cluster.local).
	TrustDomain string
	// RootNamespace is the mesh's root namespace, whose policies apply to every
	// namespace (default istio-system).
	RootNamespace string
	// Focus, when set, restricts the report to flows from or to workloads in these
	// namespaces, and Outside to their workloads: what a change to a few teams can
	// alter, in O(workloads) instead of O(workloads²). Every object is still read,
	// so each verdict is the same as in the full report.
	Focus []string
}

// Verdict is one layer's answer for a connection.
type Verdict string

// Verdicts.
const (
	Allow Verdict = "allow"
	Deny  Verdict = "deny"
	// None says the layer does not apply: the destination is not in the mesh.
	None Verdict = "none"
)

// Report is who may talk to whom on one cluster.
type Report struct {
	// Cluster is the cluster's name.
	Cluster string `json:"cluster"`
	// Mesh says whether any workload is in the mesh, so layer 7 applies.
	Mesh bool `json:"mesh"`
	// Workloads are the rendered workloads, by namespace and name.
	Workloads []Workload `json:"workloads"`
	// Flows are every source workload × destination workload × destination port.
	Flows []Flow `json:"flows"`
	// Outside are the peers beyond the rendered workloads each workload may reach or
	// be reached by.
	Outside []OutsideFlow `json:"outside"`
	// OutsideEnforced are, for the workloads of namespaces with policies in audit,
	// the outside allows that appear once every policy in audit is enforced (the
	// enforced policies' own peers, where audit now allows anything).
	OutsideEnforced []OutsideFlow `json:"outsideEnforced,omitempty"`
	// Metadata is, for every workload, whether it may reach the node's cloud metadata
	// endpoint (169.254.169.254) at layers 3/4.
	Metadata []AddressFlow `json:"metadata"`
	// Notes are what the evaluator could not judge exactly (conditions, CUSTOM
	// actions, ipBlock sources), so an auditor knows where to look.
	Notes []string `json:"notes,omitempty"`
}

// Workload is a rendered Deployment, StatefulSet or DaemonSet.
type Workload struct {
	Namespace      string            `json:"namespace"`
	Name           string            `json:"name"`
	ServiceAccount string            `json:"serviceAccount"`
	Labels         map[string]string `json:"labels"`
	Ports          []Port            `json:"ports"`
	// Meshed says whether the workload's pods join the mesh (Istio's injection label
	// or ambient mode, Linkerd's injection annotation).
	Meshed bool `json:"meshed"`
	// Quarantine says why the workload is quarantined, when it is: its spec's
	// quarantine (the Deployment's rampart.dev/quarantine annotation) or the
	// rampart.dev/quarantine label on its pods.
	Quarantine string `json:"quarantine,omitempty"`

	// annotations are the pod template's annotations (Linkerd reads its own there).
	annotations map[string]string
	// mesh is the mesh the pods join when Meshed: meshIstio or meshLinkerd.
	mesh string
}

// Meshes a workload may join.
const (
	meshIstio   = "istio"
	meshLinkerd = "linkerd"
)

// ID names a workload as namespace/name.
func (w *Workload) ID() string { return w.Namespace + "/" + w.Name }

// Port is a port a workload serves.
type Port struct {
	Name     string `json:"name,omitempty"`
	Number   int32  `json:"port"`
	Protocol string `json:"protocol"`
	// AppProtocol is how Istio reads the port: http, grpc or tcp.
	AppProtocol string `json:"appProtocol"`
}

func (p Port) String() string { return fmt.Sprintf("%d/%s", p.Number, p.Protocol) }

// Flow is one source, destination and port.
type Flow struct {
	From string  `json:"from"`
	To   string  `json:"to"`
	Port Port    `json:"port"`
	L4   Verdict `json:"l4"`
	// L4Why names the policies that decided layer 3/4.
	L4Why string  `json:"l4Why"`
	L7    Verdict `json:"l7"`
	L7Why string  `json:"l7Why,omitempty"`
	// Operations restrict an L7 allow to these HTTP operations; empty means any.
	Operations []Operation `json:"operations,omitempty"`
	// Enforced is, for a flow from or to a namespace with policies in audit (Calico
	// staged policies, Istio dry runs, Linkerd audit), the verdicts once every one of
	// them is enforced.
	Enforced *Enforced `json:"enforced,omitempty"`
	// WouldDeny says the flow is allowed now only because a policy that would deny it
	// is in audit: once the team enforces, it is denied (Enforced says why).
	WouldDeny bool `json:"wouldDeny,omitempty"`
}

// Enforced are a flow's verdicts once the policies in audit are enforced.
type Enforced struct {
	L4    Verdict `json:"l4"`
	L4Why string  `json:"l4Why"`
	L7    Verdict `json:"l7"`
	L7Why string  `json:"l7Why,omitempty"`
	// Operations are the HTTP operations layer 7 allows once enforced; empty is any.
	Operations []Operation `json:"operations,omitempty"`
}

// Why is the enforced verdict's reason: the layer that denies.
func (e *Enforced) Why() string {
	if e.L4 != Allow {
		return e.L4Why
	}
	return e.L7Why
}

// Allowed says whether the flow can happen: every layer that applies allows it.
func (f Flow) Allowed() bool { return f.L4 == Allow && f.L7 != Deny }

// Agree says whether the layers give the same answer (a layer that does not apply
// agrees with anything). For a flow with policies in audit, the layers are judged as
// they will enforce: a layer in audit allows everything now and decides nothing.
func (f Flow) Agree() bool {
	if f.Enforced != nil {
		return f.Enforced.L7 == None || f.Enforced.L4 == f.Enforced.L7
	}
	return f.L7 == None || f.L4 == f.L7
}

// Operation is a set of HTTP requests an L7 rule allows; an empty field means any.
type Operation struct {
	Methods []string `json:"methods,omitempty"`
	Paths   []string `json:"paths,omitempty"`
}

func (o Operation) String() string {
	m, p := "*", "*"
	if len(o.Methods) > 0 {
		m = strings.Join(o.Methods, ",")
	}
	if len(o.Paths) > 0 {
		p = strings.Join(o.Paths, ",")
	}
	return m + " " + p
}

// Direction is which way an outside flow goes.
type Direction string

// Directions.
const (
	Ingress Direction = "ingress"
	Egress  Direction = "egress"
)

// OutsideFlow is traffic between a workload and a peer that is not a rendered
// workload: an ingress controller, DNS, the mesh control plane, a CIDR, a host name.
type OutsideFlow struct {
	Workload  string    `json:"workload"`
	Direction Direction `json:"direction"`
	// Layer is l4 (a network policy peer) or l7 (an authorization principal).
	Layer string `json:"layer"`
	Peer  string `json:"peer"`
	Ports string `json:"ports"`
	// Policy names the object that allows it, Kind/namespace/name.
	Policy string `json:"policy"`
	// WouldDeny says the allow holds only while the workload's policies are in
	// audit: once enforced it is gone (Report.OutsideEnforced lists what remains).
	WouldDeny bool `json:"wouldDeny,omitempty"`
}

// withDefaults fills in the mesh's defaults.
func (o Options) withDefaults() Options {
	if o.TrustDomain == "" {
		o.TrustDomain = defaults.MeshTrustDomain
	}
	if o.RootNamespace == "" {
		o.RootNamespace = defaults.MeshRootNamespace
	}
	return o
}

// Evaluate computes the report of one rendered cluster.
func Evaluate(c *manifest.Cluster, opts Options) (*Report, error) {
	files := make([]*File, len(c.Files))
	for i, f := range c.Files {
		var err error
		if files[i], err = DecodeFile(f.Path, f.Objects); err != nil {
			return nil, err
		}
	}
	return EvaluateFiles(c.Name, files, opts), nil
}

// EvaluateFiles computes the report of the rendered cluster named cluster whose
// files, in order, are files: Evaluate on files decoded ahead (DecodeFile), which
// it only reads, so evaluations of clusters that share files can run at once.
func EvaluateFiles(cluster string, files []*File, opts Options) *Report {
	e := newEvaluation(cluster, files, opts)
	for _, src := range e.m.workloads {
		e.r.Flows = e.flowsFrom(src, e.r.Flows)
	}
	return e.finish()
}

// CompareFiles evaluates a cluster at two revisions, base and head (each as
// EvaluateFiles), and hands over their flows one source workload at a time: each
// calls each with the ID of a source of either revision and its flows at the base
// and at the head (none where it is not a workload), in the order of the IDs
// followed by a space (the order of the flows' "from to port" keys). A whole
// cluster's flows, O(workloads²), are never held at once. The flows are judged as
// enforced now only: none carries Enforced or WouldDeny, which cost a second
// evaluation of every flow of a namespace in audit (the reports' outside allows
// still say which enforcing would deny). Nor are flows between namespaces that can
// meet at neither revision (Neighbours, from the facts of both) evaluated or handed
// over: every layer denies them at both, so they change nothing a comparison
// reads, and a whole cluster's comparison costs the pairs that may meet, not every
// pair. The reports it returns have no flows. The two revisions are evaluated on
// two goroutines, which stop early when ctx is done (its error is returned).
func CompareFiles(ctx context.Context, cluster string, base, head []*File, opts Options, each func(src string, base, head []Flow)) (b, h *Report, err error) {
	type source struct {
		id    string
		flows []Flow
	}
	var evals [2]*evaluation
	var facts [2][]Facts
	var wg sync.WaitGroup
	for i, files := range [][]*File{base, head} {
		wg.Go(func() {
			e := newEvaluation(cluster, files, opts)
			e.nowOnly = true
			evals[i], facts[i] = e, []Facts{e.m.facts(nil)}
		})
	}
	wg.Wait()
	// Which namespaces each source's may meet, asked once for both revisions.
	meet := newMeetings(facts[:], opts)
	near := map[string]neighbourhood{}
	for _, e := range evals {
		for _, w := range e.m.workloads {
			if _, ok := near[w.Namespace]; !ok {
				keep, all := meet.of([]string{w.Namespace})
				near[w.Namespace] = neighbourhood{keep, all}
			}
		}
	}
	run := func(e *evaluation, out chan<- source, report **Report) {
		defer close(out)
		e.near, e.meetingDsts = near, map[string][]*Workload{}
		srcs := slices.Clone(e.m.workloads)
		slices.SortStableFunc(srcs, func(a, b *Workload) int { return strings.Compare(a.ID()+" ", b.ID()+" ") })
		for _, src := range srcs {
			if ctx.Err() != nil {
				return
			}
			out <- source{src.ID(), e.flowsFrom(src, nil)}
		}
		*report = e.finish()
	}
	bc, hc := make(chan source, 64), make(chan source, 64)
	go run(evals[0], bc, &b)
	go run(evals[1], hc, &h)
	bs, bok := <-bc
	hs, hok := <-hc
	for bok || hok {
		switch c := strings.Compare(bs.id+" ", hs.id+" "); {
		case bok && hok && c == 0:
			each(bs.id, bs.flows, hs.flows)
			bs, bok = <-bc
			hs, hok = <-hc
		case bok && (!hok || c < 0):
			each(bs.id, bs.flows, nil)
			bs, bok = <-bc
		default:
			each(hs.id, nil, hs.flows)
			hs, hok = <-hc
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	return b, h, nil
}

// evaluation is one cluster's model, being evaluated into its report.
type evaluation struct {
	m, enforced *model // enforced: nil when nothing is in audit
	focused     []*Workload
	r           *Report
	// nowOnly skips the flows' enforced view (CompareFiles).
	nowOnly bool
	// near, when set, are the namespaces each source namespace may meet
	// (CompareFiles, read only); meetingDsts are the destinations of a source
	// namespace's flows, from it.
	near        map[string]neighbourhood
	meetingDsts map[string][]*Workload
}

// neighbourhood is what Neighbours answers for one namespace.
type neighbourhood struct {
	namespaces []string
	all        bool
}

func newEvaluation(cluster string, files []*File, opts Options) *evaluation {
	opts = opts.withDefaults()
	m := assemble(files, opts)
	r := &Report{Cluster: cluster}
	for _, w := range m.workloads {
		r.Workloads = append(r.Workloads, *w)
		r.Mesh = r.Mesh || w.Meshed
	}
	focus := map[string]bool{}
	for _, ns := range opts.Focus {
		focus[ns] = true
	}
	m.focus = focus
	e := &evaluation{m: m, enforced: m.enforcedView(), r: r}
	for _, w := range m.workloads {
		if m.inFocus(w) {
			e.focused = append(e.focused, w)
		}
	}
	return e
}

// flowsFrom appends the flows from src to out. A flow is reported where either end
// is in focus: a source in focus to every workload, any other source to those in
// focus (in the same order), without looking at every pair of a large cluster.
func (e *evaluation) flowsFrom(src *Workload, out []Flow) []Flow {
	m, enforced := e.m, e.enforced
	dsts := e.focused
	if m.inFocus(src) {
		dsts = m.workloads
	}
	if e.near != nil {
		dsts = e.meeting(src.Namespace, dsts)
	}
	for _, dst := range dsts {
		audited := enforced != nil && !e.nowOnly && (m.auditNS[src.Namespace] || m.auditNS[dst.Namespace])
		for _, p := range dst.Ports {
			f := m.flow(src, dst, p)
			if audited {
				ef := enforced.flow(src, dst, p)
				if ef.L4 != f.L4 || ef.L7 != f.L7 || fmt.Sprint(ef.Operations) != fmt.Sprint(f.Operations) {
					f.Enforced = &Enforced{L4: ef.L4, L4Why: ef.L4Why, L7: ef.L7, L7Why: ef.L7Why, Operations: ef.Operations}
					f.WouldDeny = f.Allowed() && !ef.Allowed()
				}
			}
			out = append(out, f)
		}
	}
	return out
}

// meeting are those of dsts (the destinations of the flows from namespace ns,
// which depend on ns alone) in the namespaces that may meet ns, in order.
func (e *evaluation) meeting(ns string, dsts []*Workload) []*Workload {
	if l, ok := e.meetingDsts[ns]; ok {
		return l
	}
	l := dsts
	if near := e.near[ns]; !near.all {
		l = nil
		for _, d := range dsts {
			if _, ok := slices.BinarySearch(near.namespaces, d.Namespace); ok {
				l = append(l, d)
			}
		}
	}
	e.meetingDsts[ns] = l
	return l
}

// finish adds what is not a flow between workloads to the report, and returns it.
func (e *evaluation) finish() *Report {
	m, r := e.m, e.r
	r.Outside = m.outside()
	if e.enforced != nil {
		r.Outside, r.OutsideEnforced = m.outsideWouldDeny(r.Outside, e.enforced.outside())
	}
	r.Metadata = m.metadata()
	r.Notes = slices.Compact(slices.Sorted(maps.Keys(m.notes)))
	return r
}

// model is the cluster's objects, decoded.
type model struct {
	opts       Options
	workloads  []*Workload
	namespaces map[string]map[string]string
	netpols    []*networkingv1.NetworkPolicy
	cnps       []*ciliumPolicy
	// ccnps are the CiliumClusterwideNetworkPolicies, which may select any workload.
	ccnps     []*ciliumPolicy
	peerAuths []*securityv1.PeerAuthentication
	authzs    []*securityv1.AuthorizationPolicy
	notes     map[string]bool
	// nsAnnotations are the namespaces' annotations (Linkerd's injection and default
	// inbound policy).
	nsAnnotations map[string]map[string]string
	// gnps, tiers and networkSets are Calico's projectcalico.org/v3 baseline.
	gnps        []*calicoPolicy
	tiers       []*calicoTier
	networkSets []*calicoNetworkSet
	linkerd     linkerdModel
	// staged are Calico StagedKubernetesNetworkPolicies and dryRuns Istio
	// AuthorizationPolicies with istio.io/dry-run: neither is enforced, and the
	// enforced view (enforcedView) enforces them. auditNS are the namespaces with
	// anything in audit.
	staged  []*networkingv1.NetworkPolicy
	dryRuns []*securityv1.AuthorizationPolicy
	auditNS map[string]bool
	// enforced says this is the enforced view: Linkerd's audit policies deny.
	enforced bool
	// focus are Options.Focus; empty is every namespace.
	focus map[string]bool
	// netpolsByNS and cnpsByNS index the policies by namespace (netpolsIn, cnpsIn).
	netpolsByNS map[string][]*networkingv1.NetworkPolicy
	cnpsByNS    map[string][]*ciliumPolicy
	// peerAuthsByNS and authzsByNS are peerAuthsFor's and authzsFor's answers, from
	// peerAuthsAt and authzsAt, the policies' positions by namespace.
	peerAuthsByNS map[string][]*securityv1.PeerAuthentication
	authzsByNS    map[string][]*securityv1.AuthorizationPolicy
	peerAuthsAt   map[string][]int
	authzsAt      map[string][]int
	// applicableOf are applicable's answers, by workload.
	applicableOf map[*Workload][]authz
	// nsLabelsOf and ciliumLabelsOf are nsLabels' and ciliumLabels' answers, read
	// only: a flow asks for them once per policy it looks at.
	nsLabelsOf     map[string]map[string]string
	ciliumLabelsOf map[*Workload]map[string]string
	// workloadsByNS are the workloads by namespace (workloadsOf), and principals
	// the identities of every workload (outsideL7).
	workloadsByNS map[string][]*Workload
	principals    map[string]bool
	// calicoLabelsOf and tierNames are calicoLabels' and calicoTiers' answers.
	calicoLabelsOf map[*Workload]map[string]string
	tierNames      []string
}

// netpolsIn are the NetworkPolicies of a namespace, in the order read: a policy
// selects pods of its own namespace only, so each flow looks at its namespaces'
// policies and not the fleet's.
func (m *model) netpolsIn(ns string) []*networkingv1.NetworkPolicy {
	if m.netpolsByNS == nil {
		m.netpolsByNS = map[string][]*networkingv1.NetworkPolicy{}
		for _, np := range m.netpols {
			m.netpolsByNS[np.Namespace] = append(m.netpolsByNS[np.Namespace], np)
		}
	}
	return m.netpolsByNS[ns]
}

// cnpsIn are the CiliumNetworkPolicies of a namespace, in the order read.
func (m *model) cnpsIn(ns string) []*ciliumPolicy {
	if m.cnpsByNS == nil {
		m.cnpsByNS = map[string][]*ciliumPolicy{}
		for _, cp := range m.cnps {
			m.cnpsByNS[cp.Metadata.Namespace] = append(m.cnpsByNS[cp.Metadata.Namespace], cp)
		}
	}
	return m.cnpsByNS[ns]
}

// peerAuthsFor are the PeerAuthentications of a namespace and of the mesh's root
// namespace, in the order read (the only ones mtlsMode looks at).
func (m *model) peerAuthsFor(ns string) []*securityv1.PeerAuthentication {
	if l, ok := m.peerAuthsByNS[ns]; ok {
		return l
	}
	if m.peerAuthsByNS == nil {
		m.peerAuthsByNS = map[string][]*securityv1.PeerAuthentication{}
		m.peerAuthsAt = positions(m.peerAuths, func(pa *securityv1.PeerAuthentication) string { return pa.Namespace })
	}
	l := withRoot(m.peerAuths, m.peerAuthsAt, ns, m.opts.RootNamespace)
	m.peerAuthsByNS[ns] = l
	return l
}

// authzsFor are the AuthorizationPolicies of a namespace and of the mesh's root
// namespace, in the order read (the only ones applicable looks at).
func (m *model) authzsFor(ns string) []*securityv1.AuthorizationPolicy {
	if l, ok := m.authzsByNS[ns]; ok {
		return l
	}
	if m.authzsByNS == nil {
		m.authzsByNS = map[string][]*securityv1.AuthorizationPolicy{}
		m.authzsAt = positions(m.authzs, func(ap *securityv1.AuthorizationPolicy) string { return ap.Namespace })
	}
	l := withRoot(m.authzs, m.authzsAt, ns, m.opts.RootNamespace)
	m.authzsByNS[ns] = l
	return l
}

// positions are the indexes of items by namespace, in order.
func positions[T any](items []T, namespace func(T) string) map[string][]int {
	out := map[string][]int{}
	for i, it := range items {
		out[namespace(it)] = append(out[namespace(it)], i)
	}
	return out
}

// withRoot are the items of namespace ns and of the root namespace, in the order
// of items, from their positions: a cluster's namespaces each look at their own
// and the root's, not at every namespace's.
func withRoot[T any](items []T, at map[string][]int, ns, root string) []T {
	a, b := at[ns], at[root]
	if ns == root {
		b = nil
	}
	var out []T
	for len(a)+len(b) > 0 {
		if len(b) == 0 || (len(a) > 0 && a[0] < b[0]) {
			out, a = append(out, items[a[0]]), a[1:]
		} else {
			out, b = append(out, items[b[0]]), b[1:]
		}
	}
	return out
}

// inFocus says whether a workload is in Options.Focus (every one when unset).
func (m *model) inFocus(w *Workload) bool { return len(m.focus) == 0 || m.focus[w.Namespace] }

func (m *model) note(format string, args ...any) { m.notes[fmt.Sprintf(format, args...)] = true }

// nsLabels are a namespace's labels, with the name label the API server sets.
func (m *model) nsLabels(ns string) map[string]string {
	if l, ok := m.nsLabelsOf[ns]; ok {
		return l
	}
	l := maps.Clone(m.namespaces[ns])
	if l == nil {
		l = map[string]string{}
	}
	l["kubernetes.io/metadata.name"] = ns
	if m.nsLabelsOf == nil {
		m.nsLabelsOf = map[string]map[string]string{}
	}
	m.nsLabelsOf[ns] = l
	return l
}

// File is one rendered file's objects decoded into the evaluator's types
// (DecodeFile). Evaluations only read it, so the revisions of a cluster a report
// compares, which hold most of their files alike, share the work of decoding them.
type File struct {
	// part is the file's objects alone, as add leaves them: assemble merges the
	// parts of a cluster's files into its model.
	part     *model
	services []*corev1.Service
	// held are the namespaces the file holds objects of (FileFacts).
	held []string
}

// DecodeFile decodes the objects of the rendered file at path (which names it in
// errors).
func DecodeFile(path string, objs []*unstructured.Unstructured) (*File, error) {
	l := make([]object, len(objs))
	for i, o := range objs {
		l[i] = unstructuredObject{o}
	}
	return decodeFile(path, l)
}

// DecodeFileJSON is DecodeFile on the file's objects as JSON: an array of objects,
// as encoding/json writes []map[string]any. It gives the File DecodeFile gives
// for the same objects, without building their maps.
func DecodeFileJSON(path string, objs []byte) (*File, error) {
	var raw []jsontext.Value
	if err := jsonv2.Unmarshal(objs, &raw); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	l := make([]object, len(raw))
	for i, r := range raw {
		o, err := newJSONObject(r)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", path, err)
		}
		l[i] = o
	}
	return decodeFile(path, l)
}

func decodeFile(path string, objs []object) (*File, error) {
	f := &File{part: newModel(Options{})}
	for _, o := range objs {
		if err := f.part.add(o, &f.services); err != nil {
			return nil, fmt.Errorf("reading %s in %s: %w", ref(o), path, err)
		}
		if n := cmp.Or(o.namespace(), nameOfNamespace(o)); n != "" && !slices.Contains(f.held, n) {
			f.held = append(f.held, n)
		}
	}
	return f, nil
}

// noFile is a file with no object an evaluation reads.
var noFile = &File{part: newModel(Options{})}

// Same says whether an evaluation reads the same from f as from g (nil: a file with
// nothing it reads), so that a cluster holding g instead of f is evaluated alike.
// It compares what DecodeFile kept, field by field; false says they may differ.
func (f *File) Same(g *File) bool {
	if g == nil {
		g = noFile
	}
	return reflect.DeepEqual(f.part, g.part) && reflect.DeepEqual(f.services, g.services)
}

// SameNow says whether CompareFiles reads the same from f as from g (nil: a file
// with nothing it reads): Same, but for what is in audit (Calico's staged
// policies, Istio's dry-run policies, which namespaces audit). CompareFiles judges
// flows as enforced now, and the reports' outside allows differ only in which
// enforcing would deny, which a comparison does not read; so a change to what a
// team audits changes nothing it reports.
func (f *File) SameNow(g *File) bool {
	if g == nil {
		g = noFile
	}
	now := func(m *model) *model {
		c := *m
		c.staged, c.dryRuns, c.auditNS = nil, nil, nil
		return &c
	}
	return reflect.DeepEqual(now(f.part), now(g.part)) && reflect.DeepEqual(f.services, g.services)
}

func newModel(opts Options) *model {
	m := &model{opts: opts, namespaces: map[string]map[string]string{}, notes: map[string]bool{},
		nsAnnotations: map[string]map[string]string{}, auditNS: map[string]bool{}}
	m.linkerd.init()
	return m
}

// assemble is the model of a cluster's files, in order: the files' parts joined as
// if read one after the other (a later Namespace object replaces an earlier one),
// then what needs the whole cluster (ports' protocols from the Services, the
// mesh). The files are not changed: each workload is copied.
func assemble(files []*File, opts Options) *model {
	m := newModel(opts)
	services := map[string][]*corev1.Service{} // by namespace, in the order read
	for _, f := range files {
		p := f.part
		for _, s := range f.services {
			services[s.Namespace] = append(services[s.Namespace], s)
		}
		maps.Copy(m.namespaces, p.namespaces)
		maps.Copy(m.nsAnnotations, p.nsAnnotations)
		maps.Copy(m.auditNS, p.auditNS)
		for _, w := range p.workloads {
			c := *w
			c.Ports = slices.Clone(w.Ports)
			m.workloads = append(m.workloads, &c)
		}
		m.netpols = append(m.netpols, p.netpols...)
		m.cnps = append(m.cnps, p.cnps...)
		m.ccnps = append(m.ccnps, p.ccnps...)
		m.peerAuths = append(m.peerAuths, p.peerAuths...)
		m.authzs = append(m.authzs, p.authzs...)
		m.staged = append(m.staged, p.staged...)
		m.dryRuns = append(m.dryRuns, p.dryRuns...)
		m.gnps = append(m.gnps, p.gnps...)
		m.tiers = append(m.tiers, p.tiers...)
		m.networkSets = append(m.networkSets, p.networkSets...)
		m.linkerd.join(&p.linkerd)
	}
	for _, w := range m.workloads {
		for i := range w.Ports {
			w.Ports[i].AppProtocol = appProtocol(w, w.Ports[i], services[w.Namespace])
		}
		w.Meshed = meshed(m.nsLabels(w.Namespace), w.Labels)
		if w.Meshed {
			w.mesh = meshIstio
		} else if linkerdMeshed(m.nsAnnotations[w.Namespace], w.annotations) {
			w.Meshed, w.mesh = true, meshLinkerd
		}
	}
	for ns, a := range m.nsAnnotations {
		if a[linkerdDefaultPolicy] == "audit" {
			m.auditNS[ns] = true
		}
	}
	slices.SortFunc(m.workloads, func(a, b *Workload) int { return cmp.Compare(a.ID(), b.ID()) })
	return m
}

func decode[T any](o object) (*T, error) {
	v := new(T)
	if err := o.typed(v); err != nil {
		return nil, err
	}
	return v, nil
}

func (m *model) add(o object, services *[]*corev1.Service) error {
	switch groupKind(o) {
	case "Namespace":
		m.namespaces[o.name()] = o.labels()
		m.nsAnnotations[o.name()] = o.annotations()
	case "Service":
		s, err := decode[corev1.Service](o)
		if err != nil {
			return err
		}
		*services = append(*services, s)
	case "Deployment.apps", "StatefulSet.apps", "DaemonSet.apps":
		tmpl, ok, err := o.podTemplate()
		if err != nil || !ok {
			return cmp.Or(err, fmt.Errorf("%s has no pod template", ref(o)))
		}
		m.addWorkload(o, tmpl.Labels, tmpl.Annotations, tmpl.Spec)
	case "Pod":
		// A pod on its own: what a chart renders, or a running pod added to a
		// rendered tree (a pod labelled rampart.dev/quarantine, to see it cut off).
		p, err := decode[corev1.Pod](o)
		if err != nil {
			return err
		}
		m.addWorkload(o, p.Labels, p.Annotations, p.Spec)
	case "NetworkPolicy.networking.k8s.io":
		p, err := decode[networkingv1.NetworkPolicy](o)
		if err != nil {
			return err
		}
		m.netpols = append(m.netpols, p)
	case "CiliumNetworkPolicy.cilium.io", "CiliumClusterwideNetworkPolicy.cilium.io":
		p := new(ciliumPolicy)
		if err := o.loose(p); err != nil {
			return err
		}
		if p.clusterwide() {
			p.Metadata.Namespace = ""
			m.ccnps = append(m.ccnps, p)
		} else {
			m.cnps = append(m.cnps, p)
		}
	case "PeerAuthentication.security.istio.io":
		p, err := decode[securityv1.PeerAuthentication](o)
		if err != nil {
			return err
		}
		m.peerAuths = append(m.peerAuths, p)
	case "AuthorizationPolicy.security.istio.io":
		p, err := decode[securityv1.AuthorizationPolicy](o)
		if err != nil {
			return err
		}
		if p.Annotations["istio.io/dry-run"] == "true" {
			m.dryRuns = append(m.dryRuns, p)
			m.auditNS[p.Namespace] = true
		} else {
			m.authzs = append(m.authzs, p)
		}
	default:
		return m.addEngine(o)
	}
	return nil
}

// addWorkload adds a workload whose pods have these labels and spec.
func (m *model) addWorkload(o object, labels, annotations map[string]string, pod corev1.PodSpec) {
	w := &Workload{Namespace: o.namespace(), Name: o.name(), Labels: labels, ServiceAccount: cmp.Or(pod.ServiceAccountName, "default"), annotations: annotations}
	for _, ctr := range pod.Containers {
		for _, p := range ctr.Ports {
			w.Ports = append(w.Ports, Port{Name: p.Name, Number: p.ContainerPort, Protocol: string(cmp.Or(p.Protocol, corev1.ProtocolTCP))})
		}
	}
	if v, ok := labels[defaults.QuarantineLabel]; ok {
		w.Quarantine = "its pods are labelled " + defaults.QuarantineLabel + "=" + v
	} else if reason, ok := o.annotations()[defaults.QuarantineAnnotation]; ok {
		w.Quarantine = "its spec quarantines it: " + reason
	}
	m.workloads = append(m.workloads, w)
}

// meshKeys are the namespace and pod labels meshed reads.
var meshKeys = []string{"sidecar.istio.io/inject", "istio.io/dataplane-mode", "istio-injection", "istio.io/rev"}

// meshed says whether pods with these labels in a namespace with these labels get a
// sidecar or join ambient mode, as Istio's injection webhook and CNI decide.
func meshed(ns, pod map[string]string) bool {
	if pod["sidecar.istio.io/inject"] == "false" || pod["istio.io/dataplane-mode"] == "none" {
		return false
	}
	return ns["istio-injection"] == "enabled" || ns["istio.io/rev"] != "" || ns["istio.io/dataplane-mode"] == "ambient" ||
		pod["sidecar.istio.io/inject"] == "true" || pod["istio.io/dataplane-mode"] == "ambient"
}

// appProtocol is how Istio reads a port: the appProtocol or name prefix of the
// Service port that targets it (services are those of its namespace), else the
// container port's name prefix.
func appProtocol(w *Workload, p Port, services []*corev1.Service) string {
	for _, s := range services {
		if s.Namespace != w.Namespace || len(s.Spec.Selector) == 0 || !subset(s.Spec.Selector, w.Labels) {
			continue
		}
		for _, sp := range s.Spec.Ports {
			target := sp.TargetPort
			if target.Type == intstr.Int && target.IntVal == 0 {
				target = intstr.FromInt32(sp.Port)
			}
			if (target.Type == intstr.String && target.StrVal == p.Name) || (target.Type == intstr.Int && target.IntVal == p.Number) {
				if sp.AppProtocol != nil {
					return protocolOf(*sp.AppProtocol)
				}
				return protocolOf(sp.Name)
			}
		}
	}
	return protocolOf(p.Name)
}

// protocolOf maps an Istio protocol name (or name prefix, http-web) to http, grpc or tcp.
func protocolOf(name string) string {
	prefix, _, _ := strings.Cut(strings.ToLower(name), "-")
	switch prefix {
	case "http", "http2", "https":
		return "http"
	case "grpc", "grpc-web":
		return "grpc"
	}
	return "tcp"
}

func subset(sel, labels map[string]string) bool {
	for k, v := range sel {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// outsideWouldDeny marks the outside allows of audited workloads that enforcing
// removes, and gives the enforced allows of those workloads.
func (m *model) outsideWouldDeny(now, enforced []OutsideFlow) ([]OutsideFlow, []OutsideFlow) {
	audited := func(o OutsideFlow) bool {
		ns, _, _ := strings.Cut(o.Workload, "/")
		return m.auditNS[ns]
	}
	key := func(o OutsideFlow) string {
		return strings.Join([]string{o.Workload, string(o.Direction), o.Layer, o.Peer, o.Ports, o.Policy}, "\x00")
	}
	kept, current := map[string]bool{}, map[string]bool{}
	for _, o := range now {
		current[key(o)] = true
	}
	var out []OutsideFlow
	for _, o := range enforced {
		if audited(o) {
			kept[key(o)] = true
			if !current[key(o)] {
				out = append(out, o)
			}
		}
	}
	for i, o := range now {
		if audited(o) && !kept[key(o)] {
			now[i].WouldDeny = true
		}
	}
	return now, out
}

// enforcedView is the model with every policy in audit enforced: the staged
// NetworkPolicies and dry-run AuthorizationPolicies join the enforced ones, and
// Linkerd's audit policies deny. Nil when nothing is in audit.
func (m *model) enforcedView() *model {
	if len(m.auditNS) == 0 {
		return nil
	}
	e := *m
	e.netpols = append(slices.Clip(m.netpols), m.staged...)
	e.authzs = append(slices.Clip(m.authzs), m.dryRuns...)
	e.netpolsByNS, e.authzsByNS, e.authzsAt, e.applicableOf = nil, nil, nil, nil
	e.enforced = true
	if len(m.dryRuns) > 0 {
		m.note("an Istio team in mesh audit has a PERMISSIVE PeerAuthentication, STRICT once enforced: its would-deny flows leave out plaintext callers")
	}
	return &e
}

// flow judges one source, destination and port at both layers.
func (m *model) flow(src, dst *Workload, p Port) Flow {
	f := Flow{From: src.ID(), To: dst.ID(), Port: p}
	f.L4, f.L4Why = m.l4(src, dst, p)
	f.L7, f.L7Why, f.Operations = m.l7(src, dst, p)
	return f
}
