package specedit

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rampart-gitops/rampart/generator/spec"
)

// FuzzQuarantine: on any file, Quarantine either refuses or gives a file that
// decodes to the same spec with the quarantine, and lifting it gives back the
// input byte for byte when the app had none. Seeded from teams/.
func FuzzQuarantine(f *testing.F) {
	files, _ := filepath.Glob("../../teams/*.yaml")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b, "api", "a reverse shell from the pods")
		}
	}
	f.Add([]byte(commented), "web", `quotes " and \ and: # colons`)
	f.Fuzz(func(t *testing.T, src []byte, app, reason string) {
		q := spec.Quarantine{Reason: reason, Ticket: "INC-1"}
		out, err := Quarantine(src, app, q)
		if err != nil {
			return
		}
		if err := sameBut(src, out, app, &q); err != nil {
			t.Fatalf("Quarantine gave a file that does not read back: %v", err)
		}
		if _, err := Lift(src, app); err == nil {
			return // it had a quarantine already: replaced, not a round trip
		}
		back, err := Lift(out, app)
		if err != nil {
			t.Fatalf("lifting what Quarantine wrote: %v\n%s", err, out)
		}
		if string(back) != string(src) {
			t.Fatalf("the round trip changed the file:\n%q\n%q", src, back)
		}
	})
}
