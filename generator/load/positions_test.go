package load

import "testing"

func TestPositionsLookup(t *testing.T) {
	doc, problems := parseDocument([]byte(`apiVersion: rampart.dev/v1alpha1
kind: Team
spec:
  apps:
    - name: web
      resources:
        cpu: 100m
    - name: api
      resources:
        memory: 64Mi
  labels:
    app.kubernetes.io/name: web
    "a]b": c
`), "")
	if len(problems) > 0 {
		t.Fatalf("parsing: %v", problems)
	}
	tests := []struct {
		name      string
		field     string
		line, col int
		keyLine   int
	}{
		{name: "root", field: "", line: 1, col: 1, keyLine: 1},
		{name: "top-level value", field: "kind", line: 2, col: 7, keyLine: 2},
		{name: "list item", field: "spec.apps[1]", line: 8, col: 7, keyLine: 8},
		{name: "nested value", field: "spec.apps[1].resources.memory", line: 10, col: 17, keyLine: 10},
		{name: "missing field points at its mapping", field: "spec.apps[0].resources.memory", line: 7, col: 9, keyLine: 7},
		{name: "missing item points at its list", field: "spec.apps[7].name", line: 5, col: 5, keyLine: 5},
		{name: "missing top-level field points at the root", field: "metadata.name", line: 1, col: 1, keyLine: 1},
		{name: "quoted key", field: `spec.labels["app.kubernetes.io/name"]`, line: 12, col: 29, keyLine: 12},
		{name: "quoted key with a bracket", field: `spec.labels["a]b"]`, line: 13, col: 12, keyLine: 13},
		{name: "missing quoted key", field: `spec.labels["nope"]`, line: 12, col: 5, keyLine: 12},
		{name: "below a quoted key", field: `spec.labels["a]b"].x[3]`, line: 13, col: 12, keyLine: 13},
		{name: "garbage", field: `]]["..`, line: 1, col: 1, keyLine: 1},
	}
	// The positions of a document from the load cache (read from their encoding)
	// answer as the parsed document's do.
	for _, pos := range []struct {
		name string
		p    *Positions
	}{{"parsed", doc.pos}, {"cached", lazyPositions(appendPositions(nil, doc.pos))}} {
		for _, tt := range tests {
			t.Run(pos.name+"/"+tt.name, func(t *testing.T) {
				line, col := pos.p.Lookup(tt.field)
				if line != tt.line || col != tt.col {
					t.Errorf("Lookup(%q) = %d:%d, want %d:%d", tt.field, line, col, tt.line, tt.col)
				}
				if kl, _ := pos.p.LookupKey(tt.field); kl != tt.keyLine {
					t.Errorf("LookupKey(%q) line = %d, want %d", tt.field, kl, tt.keyLine)
				}
			})
		}
	}
	damaged := appendPositions(nil, doc.pos)
	for n := range len(damaged) {
		if l, c := lazyPositions(damaged[:n]).Lookup("spec.apps[1].resources.memory"); l > 10 || c > 17 {
			t.Errorf("positions cut to %d bytes: Lookup = %d:%d", n, l, c)
		}
	}
	if l, c := doc.pos.LookupKey("spec.apps"); l != 4 || c != 3 {
		t.Errorf("LookupKey(spec.apps) = %d:%d, want 4:3", l, c)
	}
	var nilPos *Positions
	if l, c := nilPos.Lookup("spec"); l != 0 || c != 0 {
		t.Errorf("nil Lookup = %d:%d, want 0:0", l, c)
	}
}

func TestFieldPaths(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{name: "top level", got: Field("", "spec"), want: "spec"},
		{name: "nested", got: Field("spec", "apps"), want: "spec.apps"},
		{name: "index", got: Index("spec.apps", 2), want: "spec.apps[2]"},
		{name: "dotted key", got: Field("spec.dns.podLabels", "k8s.io/app"), want: `spec.dns.podLabels["k8s.io/app"]`},
		{name: "dash key", got: Field("a", "k8s-app"), want: "a.k8s-app"},
		{name: "digit key", got: Field("a", "1x"), want: `a["1x"]`},
		{name: "empty key", got: Field("a", ""), want: `a[""]`},
		{name: "parent of index", got: parentField("spec.apps[2]"), want: "spec.apps"},
		{name: "parent of field after index", got: parentField("spec.apps[2].name"), want: "spec.apps[2]"},
		{name: "parent of quoted", got: parentField(`a.b["x.y"]`), want: "a.b"},
		{name: "parent of top level", got: parentField("spec"), want: ""},
		{name: "last name", got: lastName("spec.apps[2].resources.memory"), want: "memory"},
		{name: "last name of item", got: lastName("spec.owners[0]"), want: "owners"},
		{name: "last name quoted", got: lastName(`a["k.x"]`), want: "k.x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}
