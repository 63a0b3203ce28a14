package main

import (
	"context"
	"time"

	"github.com/rampart-gitops/rampart/generator/gitcli"
)

// gitRefs lists branches and tags for shell completion, within a second.
func gitRefs(ctx context.Context, dir string) ([]string, error) {
	if dir == "" {
		dir = "."
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	return (&gitcli.Repo{Dir: dir}).Refs(ctx)
}
