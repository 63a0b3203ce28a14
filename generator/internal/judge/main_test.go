package judge_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/rampart-gitops/rampart/generator/internal/fleet"
	"github.com/rampart-gitops/rampart/generator/internal/judge"
)

// One etcd and kube-apiserver serve every test of the package: starting them
// and installing the CRDs is most of the package's time.
var (
	sharedOnce   sync.Once
	sharedServer *judge.Server
	sharedErr    error
)

func TestMain(m *testing.M) {
	begin := time.Now()
	code := m.Run()
	if sharedServer != nil {
		if err := sharedServer.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	fmt.Printf("judge: the package's tests took %s\n", time.Since(begin).Round(time.Millisecond))
	os.Exit(code)
}

// server returns the shared API server, starting it on first use. Without
// the binaries it skips the test, except in CI (CI=true), where it fails.
func server(t *testing.T) *judge.Server {
	t.Helper()
	sharedOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		defer cancel()
		sharedServer, sharedErr = judge.Start(ctx, judge.Options{})
		if sharedErr == nil {
			fmt.Printf("judge: started etcd and kube-apiserver %s with %d CRDs: %s\n",
				judge.KubeVersion, sharedServer.CRDCount(), sharedServer.Timings)
		}
	})
	if sharedErr != nil {
		if errors.Is(sharedErr, judge.ErrMissingBinaries) && os.Getenv("CI") != "true" {
			t.Skip(sharedErr)
		}
		t.Fatal(sharedErr)
	}
	return sharedServer
}

// repoRoot finds the main module's root by walking up to its go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := fleet.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// report fails t on every error result and logs the warnings.
func report(t *testing.T, results []judge.Result) {
	t.Helper()
	for _, r := range results {
		if r.Severity == judge.SeverityError {
			t.Errorf("rejected: %s", r)
		} else {
			t.Logf("warned: %s", r)
		}
	}
}
