// Command gen writes the example images (OCI layout) and vulnerability database into
// generator/internal/exampledata; run it with `go generate ./generator/internal/exampledata`.
package main

import (
	"fmt"
	"os"

	"github.com/rampart-gitops/rampart/generator/internal/exampledata"
)

func main() {
	// go generate runs in the package directory.
	if err := exampledata.Generate("."); err != nil {
		fmt.Fprintln(os.Stderr, "generating example data:", err)
		os.Exit(1)
	}
}
