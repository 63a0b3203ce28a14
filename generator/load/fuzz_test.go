package load

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"testing/fstest"
	"time"

	"github.com/rampart-gitops/rampart/generator/diag"
)

// hangAfter is how long one Load may take in the fuzzer (instrumented, on a busy
// machine) before it counts as a hang. A normal call takes milliseconds.
const hangAfter = 10 * time.Second

var teamName = regexp.MustCompile(`(?m)^  name: ([a-z][-a-z0-9]{0,62})\s*$`)

// FuzzLoadTeam feeds arbitrary bytes to Load as a team file, next to the repository's
// clusters and other teams. Load must never panic or hang, and must answer either an
// inventory or a diag.List whose every entry names a file.
//
//	go test -run '^$' -fuzz FuzzLoadTeam -fuzztime 60s ./generator/load
//
// The engine spends up to -fuzzminimizetime (60s by default) minimizing each input
// that finds new coverage, with the exec count standing still meanwhile; a lower
// value (-fuzzminimizetime 5s) spends more of a short run fuzzing.
func FuzzLoadTeam(f *testing.F) {
	base := fstest.MapFS{}
	seeds, _ := filepath.Glob("../../teams/*.yaml")
	more, _ := filepath.Glob("testdata/*/teams/*.yaml")
	clusters, _ := filepath.Glob("../../clusters/*/cluster.yaml")
	if len(clusters) == 0 {
		clusters, _ = filepath.Glob("testdata/valid/clusters/*/cluster.yaml")
	}
	for _, c := range clusters {
		data, err := os.ReadFile(c)
		if err != nil {
			f.Fatal(err)
		}
		base[filepath.ToSlash(filepath.Join("clusters", filepath.Base(filepath.Dir(c)), "cluster.yaml"))] = &fstest.MapFile{Data: data}
	}
	for _, s := range append(seeds, more...) {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	// Other teams stay in place, so calls between teams resolve.
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		base["teams/"+filepath.Base(s)] = &fstest.MapFile{Data: data}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		root := fstest.MapFS{}
		for k, v := range base {
			root[k] = v
		}
		// Name the file after the team, so a valid input loads all the way.
		file := "teams/fuzz.yaml"
		if m := teamName.FindSubmatch(data); m != nil {
			file = "teams/" + string(m[1]) + ".yaml"
		}
		root[file] = &fstest.MapFile{Data: data}
		// Go's fuzzer does not notice a hang; a watchdog turns one into a crash, which
		// the fuzzer records with its input.
		wd := time.AfterFunc(hangAfter, func() {
			panic(fmt.Sprintf("Load took over %s on a %d-byte input", hangAfter, len(data)))
		})
		inv, err := Load(root)
		wd.Stop()
		if err == nil {
			if inv == nil {
				t.Fatal("Load returned neither an inventory nor an error")
			}
			return
		}
		if inv != nil {
			t.Fatal("Load returned an inventory with an error")
		}
		var list diag.List
		if !errors.As(err, &list) {
			t.Fatalf("Load returned %T, not a diag.List: %v", err, err)
		}
		for _, d := range list {
			if d.File == "" || d.Message == "" {
				t.Fatalf("diagnostic without a file or message: %#v", d)
			}
		}
	})
}
