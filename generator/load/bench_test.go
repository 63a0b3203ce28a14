package load

import (
	"os"
	"testing"
)

// BenchmarkLoadRepository loads the repository's own examples.
func BenchmarkLoadRepository(b *testing.B) {
	root := os.DirFS("../..")
	for b.Loop() {
		if _, err := Load(root); err != nil {
			b.Fatal(err)
		}
	}
}
