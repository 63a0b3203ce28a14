package review

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const (
	paymentsImage = "registry.example.com/payments/api:1.4.2@sha256:c3422e090ffbd4c6e157124db8cbfd1a72e627eed55025864ac481e6f954d3fa"
	egressLedger  = `  egress:
  - ports:
    - port: 9090
      protocol: TCP
    to:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: ledger
`
)

// TestDiffSemantic edits the committed render the way a render would and checks that
// every change is reported with its security summary, per cluster and team.
func TestDiffSemantic(t *testing.T) {
	dir := newRepo(t)
	edit(t, dir, "clusters/prod-weu/teams/payments/api.yaml", paymentsImage,
		"registry.example.com/payments/api:1.4.3@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	edit(t, dir, "clusters/prod-weu/tenants/payments.yaml", egressLedger, egressLedger[:len("  egress:\n")]+`  - ports:
    - port: 5432
      protocol: TCP
    to:
    - ipBlock:
        cidr: 10.0.0.0/8
`+egressLedger[len("  egress:\n"):])
	// A removed object and a removed file: storefront leaves dev-weu's chart.
	if err := os.Remove(filepath.Join(dir, "clusters/dev-weu/teams/storefront/chart-echo.yaml")); err != nil {
		t.Fatal(err)
	}
	d, err := DiffTrees(ctx, Options{Dir: dir, Base: "main"})
	if err != nil {
		t.Fatal(err)
	}
	d.BaseCommit = "" // the goldens must not depend on the tree's commit id
	if d.Files != 3 {
		t.Errorf("files compared = %d, want the 3 that differ", d.Files)
	}
	var text, md, js bytes.Buffer
	for f, w := range map[Format]*bytes.Buffer{Text: &text, Markdown: &md, JSON: &js} {
		if err := d.Write(w, f); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{
		"~ Deployment/payments/api",
		"container api: image registry.example.com/payments/api 1.4.2 → 1.4.3 (digest sha256:c3422e090ffb → sha256:0123456789ab)",
		"~ NetworkPolicy/payments/api",
		"+egress pods[app=api,!rampart.dev/quarantine] → 10.0.0.0/8:5432/TCP",
		"- Service/storefront/echo",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text diff lacks %q:\n%s", want, text.String())
		}
	}
	var back Diff
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Counts != d.Counts || back.Counts.Changed != 2 || back.Counts.Removed == 0 || back.Counts.Added != 0 {
		t.Errorf("counts = %+v", back.Counts)
	}
	if got := d.Teams(); !slices.Equal(got, []string{"payments", "storefront"}) {
		t.Errorf("teams = %v", got)
	}
	golden(t, "diff/semantic.txt", text.Bytes())
	golden(t, "diff/semantic.md", md.Bytes())
}

// TestDiffNothing: an unchanged tree reads no file and reports nothing.
func TestDiffNothing(t *testing.T) {
	dir := newRepo(t)
	d, err := DiffTrees(ctx, Options{Dir: dir, Base: "HEAD"})
	if err != nil {
		t.Fatal(err)
	}
	if d.Files != 0 || len(d.Clusters) != 0 || d.Counts.Total() != 0 {
		t.Errorf("diff of an unchanged tree = %+v", d)
	}
}

// TestDiffDefaultBase: without --base, the base is the merge base with main, not
// main's tip, so what main did since the branch is not the branch's change.
func TestDiffDefaultBase(t *testing.T) {
	dir := newRepo(t)
	run(t, dir, "git", "checkout", "-q", "-b", "feature")
	edit(t, dir, "clusters/prod-weu/teams/payments/api.yaml", "replicas: 3", "replicas: 5")
	run(t, dir, "git", "commit", "-q", "-am", "feature")
	run(t, dir, "git", "checkout", "-q", "main")
	edit(t, dir, "clusters/prod-weu/teams/ledger/core.yaml", "replicas: 2", "replicas: 4")
	run(t, dir, "git", "commit", "-q", "-am", "main moves on")
	run(t, dir, "git", "checkout", "-q", "feature")
	d, err := DiffTrees(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if d.Base != "merge-base(main)" || len(d.Clusters) != 1 || len(d.Clusters[0].Teams) != 1 || d.Clusters[0].Teams[0].Team != "payments" {
		t.Fatalf("diff = %+v", d)
	}
	o := d.Clusters[0].Teams[0].Objects
	if len(o) != 1 || o[0].Ref() != "Deployment/payments/api" || !slices.Contains(o[0].Summary, "replicas 3 → 5") {
		t.Errorf("objects = %+v", o)
	}
	// A revision as the head compares commits, not the disk.
	d, err = DiffTrees(ctx, Options{Dir: dir, Base: "main", Head: "feature"})
	if err != nil {
		t.Fatal(err)
	}
	if d.Counts.Changed != 2 {
		t.Errorf("main..feature counts = %+v, want the two Deployments changed", d.Counts)
	}
}

// TestDiffPolicyException: a new exception is reported with its expiry.
func TestDiffPolicyException(t *testing.T) {
	dir := newRepo(t)
	edit(t, dir, "clusters/prod-weu/tenants/payments.yaml", "name: rampart-images.api", "name: rampart-images.worker")
	d, err := DiffTrees(ctx, Options{Dir: dir, Base: "HEAD"})
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	_ = d.Write(&text, Text)
	for _, want := range []string{
		"+ PolicyException/payments/rampart-images.worker",
		"added, expires 2027-03-31; waives rampart-images (rules allowed-registries)",
		"- PolicyException/payments/rampart-images.api",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("diff lacks %q:\n%s", want, text.String())
		}
	}
}

func TestBlobIDMatchesGit(t *testing.T) {
	dir := newRepo(t)
	p := "clusters/prod-weu/tenants/payments.yaml"
	want := run(t, dir, "git", "rev-parse", "HEAD:"+p)
	b, err := os.ReadFile(filepath.Join(dir, p))
	if err != nil {
		t.Fatal(err)
	}
	tr := newMemTree(map[string][]byte{p: b})
	if got := tr.Blobs()[p]; got != want {
		t.Errorf("blob id = %s, git says %s", got, want)
	}
}

func TestDifferentDocuments(t *testing.T) {
	file := func(names ...string) []byte {
		var docs []string
		for _, n := range names {
			docs = append(docs, "kind: ConfigMap\nmetadata:\n  name: "+n)
		}
		return []byte(strings.Join(docs, "\n---\n"))
	}
	names := func(b []byte) []string {
		var out []string
		for _, doc := range bytes.Split(b, documentSeparator) {
			if _, n, ok := bytes.Cut(doc, []byte("name: ")); ok {
				out = append(out, string(n))
			}
		}
		return out
	}
	tests := []struct {
		name         string
		base, head   []string
		wantB, wantH []string
	}{
		{"one of three changed", []string{"a", "b", "c"}, []string{"a", "x", "c"}, []string{"b"}, []string{"x"}},
		{"the same", []string{"a", "b"}, []string{"a", "b"}, nil, nil},
		{"one added", []string{"a"}, []string{"a", "b"}, nil, []string{"b"}},
		{"one removed", []string{"a", "b"}, []string{"b"}, []string{"a"}, nil},
		{"a document twice at the head", []string{"a", "b"}, []string{"b", "a", "b"}, nil, []string{"b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, h := differentDocuments(file(tt.base...), file(tt.head...), false)
			if got := names(b); !slices.Equal(got, tt.wantB) {
				t.Errorf("base: %q, want %q", got, tt.wantB)
			}
			if got := names(h); !slices.Equal(got, tt.wantH) {
				t.Errorf("head: %q, want %q", got, tt.wantH)
			}
		})
	}
}
