package main

import (
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	"github.com/rampart-gitops/rampart/generator"
	"github.com/rampart-gitops/rampart/generator/reach"
)

// reachFormat is reach's --output flag: text, markdown or json.
type reachFormat reach.Format

func (f *reachFormat) String() string { return string(*f) }
func (f *reachFormat) Type() string   { return "text|markdown|json" }
func (f *reachFormat) Set(s string) error {
	if !slices.Contains(reach.Formats, reach.Format(s)) {
		return fmt.Errorf("want text, markdown or json, got %q", s)
	}
	*f = reachFormat(s)
	return nil
}

func newReachCmd(opts *rootOptions) *cobra.Command {
	output := reachFormat(reach.Text)
	var clusters []string
	cmd := &cobra.Command{
		Use:   "reach",
		Short: "Print who may talk to whom on a cluster, from the rendered policies",
		Long: `Render in memory and print the reachability matrix of a cluster: for every pair of
workloads and every port the destination serves, whether layer 3/4 (NetworkPolicy,
CiliumNetworkPolicy, Calico's tiers and GlobalNetworkPolicies) and layer 7 (Istio
PeerAuthentication and AuthorizationPolicy, Linkerd's Servers, HTTPRoutes and
AuthorizationPolicies) allow the connection, and which HTTP operations; and what each workload may reach
or be reached by outside the rendered workloads (ingress controller, DNS, CIDRs,
host names).

The matrix is computed from the rendered objects by evaluating their semantics
(selectors, namespaces, ports, policy types, default deny, mTLS, principals,
operations), not from the team specs, so it shows what the cluster will enforce.
A flow one layer allows and the other denies is reported as a disagreement. A flow
allowed only because a policy is in audit (a team's spec.enforcement: Calico staged
policies, Istio dry runs, Linkerd audit) is listed as "would deny", with the reason
it is denied once enforced.
Nothing is written.`,
		Example: `  rampart reach --cluster prod-weu
  rampart reach --cluster prod-weu --output markdown >> $GITHUB_STEP_SUMMARY
  rampart reach --output json | jq '.flows[] | select(.l4 == "allow")'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o := generator.Options{Dir: opts.dir, Mode: generator.Validate, Logger: opts.logger, Progress: opts.stderr, Clusters: clusters}
			res, err := generator.Generate(cmd.Context(), o)
			if err != nil {
				return reportRunError(opts, outputText, err)
			}
			for i, rc := range res.Clusters {
				c, err := rc.Decode()
				if err != nil {
					return withCode(exitBadInput, err)
				}
				mesh := rc.Inventory.Spec.Mesh
				ro := reach.Options{TrustDomain: mesh.TrustDomain, RootNamespace: mesh.RootNamespace}
				r, err := reach.Evaluate(c, ro)
				if err != nil {
					return withCode(exitBadInput, fmt.Errorf("evaluating the reachability of cluster %q: %w", c.Name, err))
				}
				if i > 0 && output != reachFormat(reach.JSON) && len(clusters) != 1 {
					fmt.Fprintln(opts.stdout)
				}
				if err := r.Write(opts.stdout, reach.Format(output)); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&clusters, "cluster", nil, "cluster(s) to report on (default: every cluster)")
	cmd.Flags().VarP(&output, "output", "o", "output format: text, markdown or json")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"text", "markdown", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}
