package generator_test

import (
	"context"
	"os"
	"testing"

	"github.com/rampart-gitops/rampart/generator"
)

// BenchmarkValidateExamples renders and verifies the repository's example teams in
// memory: load, evaluate, transform and verify, without scanning or writing.
func BenchmarkValidateExamples(b *testing.B) {
	opts := generator.Options{Dir: "..", FS: os.DirFS(".."), Mode: generator.Validate}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := generator.Generate(context.Background(), opts); err != nil {
			b.Fatal(err)
		}
	}
}
