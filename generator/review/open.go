package review

import (
	"cmp"
	"context"
	"fmt"

	"github.com/rampart-gitops/rampart/generator/gitcli"
)

// Options say which trees to compare.
type Options struct {
	// Dir is the repository root.
	Dir string
	// Base is a git revision; empty is the merge base of HEAD with the default
	// branch (origin/HEAD, else origin/main, main, …).
	Base string
	// Head is a git revision; empty is clusters/ on disk (what `rampart render`
	// wrote), unless HeadTree is set.
	Head string
	// HeadTree is a tree held in memory (a render not written); it wins over Head.
	HeadTree Tree
}

// ResolveBase turns Options.Base into a revision and its commit id.
func ResolveBase(ctx context.Context, dir, base string) (name, commit string, err error) {
	repo := &gitcli.Repo{Dir: dir}
	if base != "" {
		c, err := repo.RevParse(ctx, base)
		if err != nil {
			return "", "", fmt.Errorf("resolving the base %q: not a commit; fetch it (actions/checkout with fetch-depth: 0) or pass another --base: %w", base, err)
		}
		return base, c, nil
	}
	def, err := repo.DefaultBranch(ctx)
	if err != nil {
		return "", "", fmt.Errorf("finding the base: %w", err)
	}
	mb, err := repo.MergeBase(ctx, "HEAD", def)
	if err != nil {
		return "", "", fmt.Errorf("finding the merge base of HEAD and %s (fetch more history, or pass --base): %w", def, err)
	}
	return "merge-base(" + def + ")", mb, nil
}

// Open resolves the options into the two trees.
func Open(ctx context.Context, o Options) (base *GitTree, head Tree, baseName, headName string, err error) {
	baseName, commit, err := ResolveBase(ctx, o.Dir, o.Base)
	if err != nil {
		return nil, nil, "", "", err
	}
	// clusters/ on disk is compared by what git says differs from the base, asked
	// while the base is listed.
	var work []string
	werr := make(chan error, 1)
	if o.HeadTree == nil && o.Head == "" {
		go func() {
			var err error
			work, err = workChanges(ctx, o.Dir, commit)
			werr <- err
		}()
	} else {
		werr <- nil
	}
	base, err = OpenGitTree(ctx, o.Dir, commit)
	if err := cmp.Or(<-werr, err); err != nil {
		return nil, nil, "", "", err
	}
	switch {
	case o.HeadTree != nil:
		head, headName = o.HeadTree, "render"
	case o.Head != "":
		head, err = OpenGitTree(ctx, o.Dir, o.Head)
		headName = o.Head
	default:
		head, err = newWorkTree(o.Dir, base, work)
		headName = "working tree"
	}
	if err != nil {
		return nil, nil, "", "", err
	}
	return base, head, baseName, headName, nil
}

// DiffTrees compares the trees the options name.
func DiffTrees(ctx context.Context, o Options) (*Diff, error) {
	base, head, baseName, headName, err := Open(ctx, o)
	if err != nil {
		return nil, err
	}
	d, err := Compare(ctx, base, head)
	if err != nil {
		return nil, err
	}
	d.Base, d.BaseCommit, d.Head = baseName, base.Commit, headName
	return d, nil
}
