package reach

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Format is an output format of a report.
type Format string

// Formats.
const (
	Text     Format = "text"
	Markdown Format = "markdown"
	JSON     Format = "json"
)

// Formats are every format, for flag help.
var Formats = []Format{Text, Markdown, JSON}

// Summary counts a report's flows.
type Summary struct {
	Flows     int `json:"flows"`
	Allowed   int `json:"allowed"`
	Denied    int `json:"denied"`
	Disagreed int `json:"disagreed"`
	// WouldDeny counts the allowed flows a policy in audit would deny once enforced.
	WouldDeny int `json:"wouldDeny,omitempty"`
}

// Summary counts the flows.
func (r *Report) Summary() Summary {
	s := Summary{Flows: len(r.Flows)}
	for _, f := range r.Flows {
		switch {
		case !f.Agree():
			s.Disagreed++
		case f.Allowed():
			s.Allowed++
		default:
			s.Denied++
		}
		if f.WouldDeny {
			s.WouldDeny++
		}
	}
	return s
}

// Write prints the report in a format.
func (r *Report) Write(w io.Writer, f Format) error {
	switch f {
	case JSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			*Report
			Summary Summary `json:"summary"`
		}{r, r.Summary()})
	case Markdown:
		return r.write(w, true)
	case Text, "":
		return r.write(w, false)
	}
	return fmt.Errorf("unknown output format %q", f)
}

// table writes rows as a Markdown table or aligned text columns.
type table struct {
	md   bool
	rows [][]string
}

func (t *table) row(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) write(w io.Writer) error {
	if len(t.rows) == 0 {
		return nil
	}
	if t.md {
		var b strings.Builder
		for i, r := range t.rows {
			esc := make([]string, len(r))
			for j, c := range r {
				esc[j] = strings.ReplaceAll(c, "|", `\|`)
			}
			b.WriteString("| " + strings.Join(esc, " | ") + " |\n")
			if i == 0 {
				b.WriteString("|" + strings.Repeat(" --- |", len(r)) + "\n")
			}
		}
		_, err := io.WriteString(w, b.String())
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range t.rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

func (r *Report) write(w io.Writer, md bool) error {
	s := r.Summary()
	mesh := "no mesh: layer 7 does not apply"
	if r.Mesh {
		mesh = "mesh on: layer 7 is " + r.meshName()
	}
	heading := func(title string) {
		if md {
			fmt.Fprintf(w, "\n#### %s\n\n", title)
		} else {
			fmt.Fprintf(w, "\n%s\n", title)
		}
	}
	if md {
		fmt.Fprintf(w, "### Reachability on cluster `%s`\n\n", r.Cluster)
	} else {
		fmt.Fprintf(w, "Reachability on cluster %s\n", r.Cluster)
	}
	agree := "the layers agree on every flow"
	if s.Disagreed > 0 {
		agree = fmt.Sprintf("the layers DISAGREE on %d", s.Disagreed)
	}
	fmt.Fprintf(w, "Computed from the rendered policies (%s). %d workloads, %d flows (source × destination × port): %d allowed, %d denied; %s.\n",
		mesh, len(r.Workloads), s.Flows, s.Allowed, s.Denied, agree)
	if s.WouldDeny > 0 {
		fmt.Fprintf(w, "%d allowed flows are allowed only because policies are in audit: they WOULD BE DENIED once enforced (listed below).\n", s.WouldDeny)
	}

	var quarantined []Workload
	for _, wl := range r.Workloads {
		if wl.Quarantine != "" {
			quarantined = append(quarantined, wl)
		}
	}
	if len(quarantined) > 0 {
		heading("Quarantined (cut off: no allow Rampart renders selects them)")
		q := &table{md: md}
		q.row("WORKLOAD", "WHY")
		for _, wl := range quarantined {
			q.row(wl.ID(), wl.Quarantine)
		}
		if err := q.write(w); err != nil {
			return err
		}
	}

	heading("Matrix (rows call columns; ports in the flows below)")
	grid := &table{md: md}
	head := []string{"FROM \\ TO"}
	for _, d := range r.Workloads {
		head = append(head, d.ID())
	}
	grid.row(head...)
	cell := map[[2]string]string{}
	for _, f := range r.Flows {
		k := [2]string{f.From, f.To}
		v := "-"
		switch {
		case !f.Agree() && f.L4 == Allow:
			v = "L4 only!"
		case !f.Agree():
			v = "L7 only!"
		case f.WouldDeny:
			v = "would deny"
		case f.Allowed():
			v = "allow"
		}
		if cell[k] == "" || cell[k] == "-" {
			cell[k] = v
		}
	}
	for _, src := range r.Workloads {
		row := []string{src.ID()}
		for _, dst := range r.Workloads {
			row = append(row, cellOr(cell[[2]string{src.ID(), dst.ID()}]))
		}
		grid.row(row...)
	}
	if err := grid.write(w); err != nil {
		return err
	}

	heading("Allowed flows")
	allowed := &table{md: md}
	allowed.row("FROM", "TO", "PORT", "PROTOCOL", "L3/L4", "L7", "OPERATIONS")
	for _, f := range r.Flows {
		if !f.Allowed() || !f.Agree() {
			continue
		}
		allowed.row(f.From, f.To, f.Port.String(), f.Port.AppProtocol, string(f.L4), string(f.L7), operations(f))
	}
	if len(allowed.rows) == 1 {
		fmt.Fprintln(w, "none")
	} else if err := allowed.write(w); err != nil {
		return err
	}

	if s.WouldDeny > 0 {
		heading("Would deny once enforced (allowed now: the policies that deny them are in audit)")
		wd := &table{md: md}
		wd.row("FROM", "TO", "PORT", "ENFORCED")
		for _, f := range r.Flows {
			if f.WouldDeny {
				wd.row(f.From, f.To, f.Port.String(), f.Enforced.Why())
			}
		}
		if err := wd.write(w); err != nil {
			return err
		}
	}

	if s.Disagreed > 0 {
		heading("Disagreements (one layer allows what the other denies)")
		dis := &table{md: md}
		dis.row("FROM", "TO", "PORT", "L3/L4", "L7", "WHY")
		for _, f := range r.Flows {
			if !f.Agree() {
				dis.row(f.From, f.To, f.Port.String(), string(f.L4), string(f.L7), f.L4Why+"; "+f.L7Why)
			}
		}
		if err := dis.write(w); err != nil {
			return err
		}
	}

	heading("Beyond the rendered workloads")
	out := &table{md: md}
	out.row("WORKLOAD", "DIRECTION", "LAYER", "PEER", "PORTS", "POLICY")
	for _, o := range r.Outside {
		peer := o.Peer
		if o.WouldDeny {
			peer += " (would deny)"
		}
		out.row(o.Workload, string(o.Direction), o.Layer, peer, o.Ports, cellOr(o.Policy))
	}
	if len(out.rows) == 1 {
		fmt.Fprintln(w, "none")
	} else if err := out.write(w); err != nil {
		return err
	}
	if len(r.OutsideEnforced) > 0 {
		heading("Beyond the rendered workloads, once enforced: the allows of the policies in audit")
		enf := &table{md: md}
		enf.row("WORKLOAD", "DIRECTION", "LAYER", "PEER", "PORTS", "POLICY")
		for _, o := range r.OutsideEnforced {
			enf.row(o.Workload, string(o.Direction), o.Layer, o.Peer, o.Ports, cellOr(o.Policy))
		}
		if err := enf.write(w); err != nil {
			return err
		}
	}
	if len(r.Metadata) > 0 {
		heading("Cloud metadata endpoint " + r.Metadata[0].Address + " (egress, any port)")
		md := &table{md: md}
		md.row("WORKLOAD", "L3/L4", "WHY")
		for _, a := range r.Metadata {
			md.row(a.Workload, string(a.L4), a.Why)
		}
		if err := md.write(w); err != nil {
			return err
		}
	}
	if len(r.Notes) > 0 {
		heading("Notes")
		for _, n := range r.Notes {
			fmt.Fprintf(w, "- %s\n", n)
		}
	}
	return nil
}

// meshName names the meshes the report's workloads join.
func (r *Report) meshName() string {
	istio, linkerd := false, false
	for _, w := range r.Workloads {
		istio = istio || (w.Meshed && w.mesh == meshIstio)
		linkerd = linkerd || (w.Meshed && w.mesh == meshLinkerd)
	}
	switch {
	case istio && linkerd:
		return "Istio and Linkerd"
	case linkerd:
		return "Linkerd"
	}
	return "Istio"
}

func operations(f Flow) string {
	if f.L7 == None {
		return "n/a"
	}
	if len(f.Operations) == 0 {
		return "any"
	}
	ops := make([]string, len(f.Operations))
	for i, o := range f.Operations {
		ops[i] = o.String()
	}
	return strings.Join(ops, "; ")
}

func cellOr(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
