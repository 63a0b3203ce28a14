package review

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Format is an output format of a diff or a report.
type Format string

// Formats.
const (
	Text     Format = "text"
	Markdown Format = "markdown"
	JSON     Format = "json"
)

// Formats are the diff's formats, for flag help and completion.
var Formats = []Format{Text, Markdown, JSON}

var sign = map[Action]string{Added: "+", Changed: "~", Removed: "-"}

// Summary is the one-line count of a diff: "2 clusters, 1 team: +3 ~1 -0 objects".
func (d *Diff) Summary() string {
	teams := len(d.Teams())
	return fmt.Sprintf("%d %s, %d %s: +%d ~%d -%d objects",
		len(d.Clusters), plural(len(d.Clusters), "cluster", "clusters"), teams, plural(teams, "team", "teams"),
		d.Counts.Added, d.Counts.Changed, d.Counts.Removed)
}

// Write prints the diff in a format.
func (d *Diff) Write(w io.Writer, f Format) error {
	switch f {
	case JSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(d)
	case Markdown:
		_, err := io.WriteString(w, d.markdown())
		return err
	case Text, "":
		_, err := io.WriteString(w, d.text())
		return err
	}
	return fmt.Errorf("unknown output format %q", f)
}

func (d *Diff) text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s against %s\n", d.Summary(), d.baseName())
	for _, c := range d.Clusters {
		n := c.Counts()
		fmt.Fprintf(&b, "\ncluster %s (+%d ~%d -%d)\n", c.Cluster, n.Added, n.Changed, n.Removed)
		for _, t := range c.Teams {
			fmt.Fprintf(&b, "  %s\n", t.Label())
			for _, o := range t.Objects {
				fmt.Fprintf(&b, "    %s %s\n", sign[o.Action], o.Ref())
				for _, s := range o.Summary {
					fmt.Fprintf(&b, "        %s\n", s)
				}
			}
		}
	}
	return b.String()
}

func (d *Diff) baseName() string {
	if d.BaseCommit != "" && d.BaseCommit != d.Base {
		return fmt.Sprintf("%s (%s)", d.Base, short(d.BaseCommit))
	}
	return d.Base
}

func (d *Diff) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "**Rendered changes:** %s against `%s`\n", d.Summary(), d.baseName())
	for _, c := range d.Clusters {
		b.WriteString("\n")
		writeClusterObjects(&b, &c, detailObjects, "`"+c.Cluster+"`")
	}
	return b.String()
}

// detail is how much of a cluster's objects a report shows.
type detail int

const (
	detailObjects detail = iota // every object with its summary
	detailRefs                  // every object, summaries collapsed to a count
	detailTeams                 // per team counts
	detailCounts                // the cluster's counts only
)

func writeClusterObjects(b *strings.Builder, c *ClusterDiff, level detail, heading string) {
	n := c.Counts()
	fmt.Fprintf(b, "#### %s: +%d ~%d -%d\n\n", heading, n.Added, n.Changed, n.Removed)
	if level == detailCounts {
		return
	}
	for _, t := range c.Teams {
		var tn Counts
		for _, o := range t.Objects {
			tn.add(o.Action)
		}
		if level == detailTeams {
			fmt.Fprintf(b, "- **%s**: +%d ~%d -%d\n", t.Label(), tn.Added, tn.Changed, tn.Removed)
			continue
		}
		fmt.Fprintf(b, "- **%s** (+%d ~%d -%d)\n", t.Label(), tn.Added, tn.Changed, tn.Removed)
		for _, o := range t.Objects {
			fmt.Fprintf(b, "  - `%s` %s", sign[o.Action], mdCode(o.Ref()))
			switch {
			case len(o.Summary) == 0:
				b.WriteString("\n")
			case level == detailRefs:
				fmt.Fprintf(b, " (%d %s)\n", len(o.Summary), plural(len(o.Summary), "note", "notes"))
			default:
				b.WriteString("\n")
				for _, s := range o.Summary {
					fmt.Fprintf(b, "    - %s\n", mdCode(s))
				}
			}
		}
	}
	if level == detailTeams {
		b.WriteString("\n")
	}
}

// mdCode puts s in an inline code span that survives backticks in s.
func mdCode(s string) string {
	if !strings.Contains(s, "`") {
		return "`" + s + "`"
	}
	return "`` " + s + " ``"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
