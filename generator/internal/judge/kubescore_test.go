package judge_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-gitops/rampart/generator/internal/judge"
)

// acceptedKubeScore are the CRITICAL findings of kube-score that Rampart accepts by
// design, each with the reason; any other is a failure.
var acceptedKubeScore = []struct {
	check, summary string
	// objectSuffix, when set, limits the acceptance to objects named so.
	objectSuffix string
	why          string
}{
	{"container-resources", "CPU limit is not set", "",
		"no CPU limits by design: a limit throttles a pod on an idle node; apps set resources.cpuLimit when they want one"},
	{"container-image-pull-policy", "ImagePullPolicy is not set to Always", "",
		"every image is pinned by digest, so pulling Always would fetch the same bytes"},
	{"networkpolicy-targets-pod", "The NetworkPolicys selector doesn't match any pods", "/allow-acme-http01-solver",
		"it admits the HTTP-01 solver pods cert-manager creates while a certificate is issued"},
}

func acceptedFinding(f judge.KubeScoreFinding) bool {
	for _, a := range acceptedKubeScore {
		if f.Check == a.check && f.Summary == a.summary && strings.HasSuffix(f.Object, a.objectSuffix) {
			return true
		}
	}
	return false
}

// TestKubeScoreExamples runs kube-score on every rendered example cluster (its
// platform layer, tenants and team directories together, so it sees the policies
// beside the pods): no CRITICAL finding beyond the accepted list. Without kube-score
// it skips, except in CI (CI=true), where it fails: .ci/install-judges builds it.
func TestKubeScoreExamples(t *testing.T) {
	ks, err := judge.FindKubeScore()
	if err != nil {
		if errors.Is(err, judge.ErrMissingBinaries) && os.Getenv("CI") != "true" {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	root := repoRoot(t)
	dirs, err := filepath.Glob(filepath.Join(root, "clusters", "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no example clusters: %v", err)
	}
	for _, dir := range dirs {
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			var files []string
			err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				base := filepath.Base(p)
				if !d.IsDir() && strings.HasSuffix(base, ".yaml") && base != "cluster.yaml" && base != "kustomization.yaml" {
					files = append(files, p)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			begin := time.Now()
			findings, err := ks.Score(ctx, "v1.33", files)
			if err != nil {
				t.Fatal(err)
			}
			critical, accepted, warnings := 0, 0, 0
			for _, f := range findings {
				switch {
				case f.Grade > judge.GradeCritical:
					warnings++
				case acceptedFinding(f):
					accepted++
				default:
					critical++
					t.Errorf("kube-score: %s", f)
				}
			}
			fmt.Printf("kube-score judge: %s: %d files, %d CRITICAL (%d accepted by design), %d warnings, in %s\n",
				name, len(files), critical+accepted, accepted, warnings, time.Since(begin).Round(time.Millisecond))
		})
	}
}
