package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/rampart-gitops/rampart/generator/spec"
	"github.com/rampart-gitops/rampart/generator/specedit"
)

func newQuarantineCmd(opts *rootOptions) *cobra.Command {
	var q spec.Quarantine
	var lift bool
	cmd := &cobra.Command{
		Use:   "quarantine TEAM/APP --reason TEXT [--ticket ID] | TEAM/APP --lift",
		Short: "Quarantine an app in its team's spec, or lift the quarantine",
		Long: `Set quarantine on an app in teams/<team>.yaml, or remove it with --lift, leaving
every other line of the file (comments, layout) as it was, so the pull request
shows one small hunk. Render and open the pull request next.

Once rendered and applied, a quarantined app keeps its pods (for forensics) and
loses every allow: no ingress from the ingress controller or callers, no egress but
DNS, out of its routes, on every layer (NetworkPolicy, Cilium deny rules, an Istio
DENY policy). For the minutes before that merges, label the pods:

  kubectl -n TEAM label pod POD rampart.dev/quarantine=true`,
		Example: `  rampart quarantine payments/api --reason "Falco: reverse shell from api pods" --ticket INC-4711
  rampart render
  rampart quarantine payments/api --lift`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			team, app, ok := strings.Cut(args[0], "/")
			if !ok || len(validation.IsDNS1123Label(team)) > 0 || len(validation.IsDNS1123Label(app)) > 0 {
				return withCode(exitBadInput, fmt.Errorf("name the app as TEAM/APP, e.g. payments/api, got %q", args[0]))
			}
			if lift && (q.Reason != "" || q.Ticket != "") {
				return withCode(exitBadInput, errors.New("--lift takes no --reason or --ticket"))
			}
			if !lift && q.Reason == "" {
				return withCode(exitBadInput, errors.New("say why with --reason (or lift a quarantine with --lift)"))
			}
			rel := filepath.Join("teams", team+".yaml")
			path := filepath.Join(opts.dir, rel)
			var err error
			if lift {
				err = specedit.LiftFile(path, app)
			} else {
				err = specedit.QuarantineFile(path, app, q)
			}
			if err != nil {
				return withCode(exitBadInput, fmt.Errorf("editing team %q (%s): %w", team, filepath.ToSlash(rel), err))
			}
			verb := "quarantined"
			if lift {
				verb = "lifted the quarantine of"
			}
			fmt.Fprintf(opts.stdout, "%s %s/%s in %s; now run rampart render and open the pull request\n", verb, team, app, filepath.ToSlash(rel))
			return nil
		},
	}
	cmd.Flags().StringVar(&q.Reason, "reason", "", "what happened (10 to 200 characters, one line)")
	cmd.Flags().StringVar(&q.Ticket, "ticket", "", "the incident's ticket or URL")
	cmd.Flags().BoolVar(&lift, "lift", false, "remove the app's quarantine")
	return cmd
}
