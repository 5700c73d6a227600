package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/berth-dev/berth/compose"
	"github.com/berth-dev/berth/reconciler"
	"github.com/spf13/cobra"
)

type planOptions struct {
	DetailedExitCode bool
}

func newPlanCommand(g *globalOptions) *cobra.Command {
	o := &planOptions{}
	cmd := &cobra.Command{
		Use:   "plan [PROJECT...]",
		Short: "Show what apply would change",
		Example: `  berth plan
  berth plan hello --detailed-exitcode   # exit 2 when there are changes`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPlan(cmd.Context(), g, o, args, cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVar(&o.DetailedExitCode, "detailed-exitcode", false, "exit 2 when there are changes, 0 when none")
	return cmd
}

func runPlan(ctx context.Context, g *globalOptions, o *planOptions, projects []string, out io.Writer) error {
	a, err := newApp(ctx, g)
	if err != nil {
		return err
	}
	defer a.Close()
	p, err := a.plan(ctx, projects)
	if err != nil {
		return err
	}
	printPlan(out, p, true)
	if err := printPendingUpdates(out, g.StateDir, p); err != nil {
		a.log.Warn("reading pending image updates", "err", err)
	}
	if err := errors.Join(p.Errors...); err != nil {
		return err
	}
	if o.DetailedExitCode && p.HasChanges() {
		return &exitError{code: 2, err: errors.New("there are changes")}
	}
	return nil
}

// plan loads the config dir and diffs it against systemd's units.
func (a *app) plan(ctx context.Context, projects []string) (*reconciler.Plan, error) {
	entries, err := loadConfigDir(ctx, a.g.ConfigDir)
	if err != nil {
		return nil, err
	}
	for _, p := range projects {
		if !hasEntry(entries, p) {
			return nil, fmt.Errorf("no project %q in %s", p, a.g.ConfigDir)
		}
	}
	obs, err := a.rec.Manager.Observe(ctx)
	if err != nil {
		return nil, err
	}
	return reconciler.MakePlan(entries, obs, projects), nil
}

func hasEntry(entries []compose.Entry, name string) bool {
	for _, e := range entries {
		if e.Name == name {
			return true
		}
	}
	return false
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
		line := fmt.Sprintf("%s %s %s/%s (%s)", c.Action.Symbol(), c.Action, c.Project, c.Service, c.Unit)
		if c.Reason != "" {
			line += ": " + c.Reason
		}
		fmt.Fprintln(w, line)
	}
}
