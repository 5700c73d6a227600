package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/berth-dev/berth/compose/model"

	"github.com/berth-dev/berth/reconciler"
	"github.com/spf13/cobra"
)

type planOptions struct {
	DetailedExitCode bool
	Format           string
	Offline          bool
}

func newPlanCommand(g *globalOptions) *cobra.Command {
	o := &planOptions{}
	cmd := &cobra.Command{
		Use:   "plan [PROJECT...]",
		Short: "Show what apply would change",
		Long: `plan loads the config dir (or only the named projects) and compares each
service's spec hash with the unit systemd runs, terraform style:

  + create    the service has no unit yet
  ~ recreate  its spec changed (the fields that changed are named: image,
              command, env KEY, mount content PATH …, from the frozen spec
              of the running unit), or its unit drifted (stopped, failed,
              limits changed by hand)
  - remove    no file declares it any more
  = unchanged keeps running, untouched

A file that fails to load is reported with file and line; its services are
kept as they are. Services stopped with 'berth stop' stay unchanged.`,
		Example: `  berth plan
  berth plan hello --detailed-exitcode   # exit 2 when there are changes
  berth plan --format json | jq '.changes[] | select(.action != "unchanged")'`,
		ValidArgsFunction: completeProjects(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Offline {
				return runPlanOffline(cmd.Context(), g, o, args, cmd.OutOrStdout(), cmd.ErrOrStderr())
			}
			return runPlan(cmd.Context(), g, o, args, cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVar(&o.DetailedExitCode, "detailed-exitcode", false, "exit 2 when there are changes, 0 when none")
	addFormatFlag(cmd.Flags(), &o.Format, "", "text", "json")
	cmd.Flags().BoolVar(&o.Offline, "offline", false, "without systemd: what apply would create on an empty host (see berth config)")
	return cmd
}

func runPlan(ctx context.Context, g *globalOptions, o *planOptions, projects []string, out io.Writer) error {
	a, err := newApp(ctx, g)
	if err != nil {
		return err
	}
	defer a.Close()
	// A dry-run pass: addresses are looked up, not reserved, and a
	// project whose networks fail is kept as it runs.
	res, err := a.rec.Pass(ctx, reconciler.Options{Load: a.loader(projects), Scope: reconciler.Scope{Only: projects}, DryRun: true})
	if err != nil {
		return err
	}
	p := res.Plan
	if o.Format == "json" {
		if err := printPlanJSON(out, p); err != nil {
			return err
		}
	} else {
		printProjectNames(out, res.Entries)
		printPlan(out, p, true)
		if err := printPendingUpdates(ctx, out, g.StateDir, p); err != nil {
			a.log.Warn("reading pending image updates", "err", err)
		}
	}
	if err := errors.Join(p.Errors...); err != nil {
		return err
	}
	if o.DetailedExitCode && p.HasChanges() {
		return &exitError{code: 2, err: errors.New("there are changes")}
	}
	return nil
}

func hasEntry(entries []model.Entry, name string) bool {
	for _, e := range entries {
		if e.Name == name {
			return true
		}
	}
	return false
}

// printProjectNames says which project an entry of the config dir became
// when its name is not the entry's own (COMPOSE_PROJECT_NAME, `name:`, or
// a normalised directory name such as Pihole-DoH → pihole-doh), so the
// units plan lists can be traced back to their files.
func printProjectNames(w io.Writer, entries []model.Entry) {
	for _, e := range entries {
		base := filepath.Base(e.Path)
		base = strings.TrimSuffix(strings.TrimSuffix(base, ".yaml"), ".yml")
		if e.Name != "" && e.Name != base {
			fmt.Fprintf(w, "project %s: %s\n", e.Name, e.Path)
		}
	}
}

func printPlan(w io.Writer, p *reconciler.Plan, showUnchanged bool) {
	for _, warn := range p.Warnings {
		fmt.Fprintln(w, "warning:", warn)
	}
	for _, err := range p.Errors {
		fmt.Fprintln(w, "error:", err)
	}
	if !p.HasChanges() {
		fmt.Fprintln(w, "No changes.")
		return
	}
	for _, c := range p.Changes {
		if c.Action == reconciler.Keep && !showUnchanged {
			continue
		}
		line := fmt.Sprintf("%s %s %s/%s (%s)", c.Action.Symbol(), actionLabel(c), c.Project, c.Service, c.Unit)
		if c.Reason != "" {
			line += ": " + c.Reason
		}
		if src := healthSource(c); src != "" {
			line += " [health check: " + src + "]"
		}
		fmt.Fprintln(w, line)
	}
}

// healthSource says where the health check of a service the plan keeps or
// starts comes from, when that is the image ("image HEALTHCHECK: CMD-SHELL
// …"); "" otherwise.
func healthSource(c reconciler.Change) string {
	d := c.Desired
	if c.Action == reconciler.Remove || d == nil || d.Health == nil || d.HealthSource != model.HealthFromImage {
		return ""
	}
	test := "CMD " + strings.Join(d.Health.Cmd, " ")
	if d.Health.Shell {
		test = "CMD-SHELL " + strings.Join(d.Health.Cmd, " ")
	}
	return "image HEALTHCHECK " + test
}

// planJSON is the --format json form of a plan.
type planJSON struct {
	Changes  []changeJSON `json:"changes"`
	Errors   []string     `json:"errors"`
	Warnings []string     `json:"warnings"`
}

type changeJSON struct {
	Action  string   `json:"action"`
	Project string   `json:"project"`
	Service string   `json:"service"`
	Unit    string   `json:"unit"`
	Reason  string   `json:"reason,omitempty"`
	Fields  []string `json:"fields,omitempty"`
	Drift   string   `json:"drift,omitempty"`
	Hash    string   `json:"hash,omitempty"`
	// HealthSource is "image" when the health check is the image's.
	HealthSource string `json:"health_source,omitempty"`
}

func printPlanJSON(w io.Writer, p *reconciler.Plan) error {
	out := planJSON{Changes: []changeJSON{}, Errors: []string{}, Warnings: p.Warnings}
	if out.Warnings == nil {
		out.Warnings = []string{}
	}
	for _, e := range p.Errors {
		out.Errors = append(out.Errors, e.Error())
	}
	for _, c := range p.Changes {
		j := changeJSON{Action: string(c.Action), Project: c.Project, Service: c.Service, Unit: c.Unit, Reason: c.Reason, Fields: c.Fields, Drift: c.Repair}
		if c.Desired != nil {
			j.Hash = c.Desired.Hash()
			if healthSource(c) != "" {
				j.HealthSource = c.Desired.HealthSource
			}
		}
		out.Changes = append(out.Changes, j)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
