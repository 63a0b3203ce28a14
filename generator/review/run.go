package review

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/rampart-gitops/rampart/generator"
	"github.com/rampart-gitops/rampart/generator/scan"
	"github.com/rampart-gitops/rampart/generator/write"
)

// Reviewed is a render in memory and its report against the committed base.
type Reviewed struct {
	Result *generator.Result
	Report *Report
	// Head is the render's tree (every rendered cluster).
	Head *MemTree
}

// Run renders with opts (in Memory mode unless opts says another: scanned, nothing
// compared with the disk or written), compares the
// render with clusters/ committed at base (ResolveBase's rules) and builds the
// report. Only the clusters the run renders are compared.
func Run(ctx context.Context, opts generator.Options, base string) (*Reviewed, error) {
	if opts.Mode == "" {
		opts.Mode = generator.Memory
	}
	// The base is listed from git, and its paths indexed, while the render runs.
	type committed struct {
		name, commit string
		tree         *GitTree
		err          error
	}
	listed := make(chan committed, 1)
	go func() {
		var c committed
		if c.name, c.commit, c.err = ResolveBase(ctx, opts.Dir, base); c.err == nil {
			if c.tree, c.err = OpenGitTree(ctx, opts.Dir, c.commit); c.err == nil {
				c.tree.Paths("")
			}
		}
		listed <- c
	}()
	res, err := generator.Generate(ctx, opts)
	b := <-listed // waited for even on error: git must be done with the directory
	if err != nil {
		return nil, err
	}
	if b.err != nil {
		return nil, b.err
	}
	baseName, commit, bt := b.name, b.commit, b.tree
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	cacheDir := generator.CacheDir(opts, res.Inventory)
	ids := OpenBlobIDs(subdir(cacheDir, "blob-ids"))
	encoded := make([]*write.Cluster, len(res.Clusters))
	for i, c := range res.Clusters {
		encoded[i] = c.Cluster
	}
	head, err := NewRenderTree(encoded, ids)
	if err != nil {
		return nil, err
	}
	if err := ids.Save(); err != nil && opts.Logger != nil {
		opts.Logger.Warn("blob ids not saved; the next report hashes every file", "error", err)
	}
	ls := &lazyScanner{open: func() (*scan.Scanner, error) {
		so, err := scan.OptionsFromConfig(opts.Dir, res.Inventory.Config.Scan)
		if err != nil {
			return nil, err
		}
		so.Logger, so.Now = opts.Logger, now
		return scan.New(so)
	}}
	defer ls.Close()
	rep, err := Build(ctx, BuildInput{
		Base: Only(bt, opts.Clusters), BaseName: baseName, BaseCommit: commit,
		Head: head, HeadName: "this render",
		Inventory: res.Inventory, Scan: res.Scan, Warnings: res.Warnings, Scanner: ls, Now: now(),
		CacheDir: cacheDir, Logger: opts.Logger,
	})
	if err != nil {
		return nil, err
	}
	return &Reviewed{Result: res, Report: rep, Head: head}, nil
}

// lazyScanner opens the image scanner when the base's images first need a scan, and
// only then: most changes run the images the base ran.
type lazyScanner struct {
	open func() (*scan.Scanner, error)
	once sync.Once
	s    *scan.Scanner
	err  error
}

func (l *lazyScanner) get() (*scan.Scanner, error) {
	l.once.Do(func() { l.s, l.err = l.open() })
	return l.s, l.err
}

func (l *lazyScanner) Resolve(ctx context.Context, refs []string) (map[string]scan.Resolved, error) {
	s, err := l.get()
	if err != nil {
		return nil, fmt.Errorf("opening the image scanner: %w", err)
	}
	return s.Resolve(ctx, refs)
}

func (l *lazyScanner) Scan(ctx context.Context, images []scan.Resolved) (map[string]*scan.Result, error) {
	s, err := l.get()
	if err != nil {
		return nil, fmt.Errorf("opening the image scanner: %w", err)
	}
	return s.Scan(ctx, images)
}

func (l *lazyScanner) Close() {
	if l.s != nil {
		_ = l.s.Close()
	}
}
