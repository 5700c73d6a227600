package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/berth-dev/berth/compose/model"

	"github.com/berth-dev/berth/reconciler"
	"github.com/spf13/cobra"
)

func newStopCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "stop SERVICE|PROJECT/SERVICE|PROJECT...",
		Short: "Stop services and keep them stopped",
		Long: `stop stops the services' units and records that you want them stopped, in
<state-dir>/agent/intents: the agent does not "repair" them and apply does
not start them again, until 'berth start'. (A plain 'systemctl stop' is
drift, which the agent undoes.) Deleting the service from its file removes it
as usual.`,
		Example: `  berth stop web            # the service web (of whichever project has one)
  berth stop hello/web      # one service of one project
  berth stop hello          # every service of project hello`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeServices(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runControl(cmd.Context(), g, "stop", args, cmd.OutOrStdout())
		},
	}
}

func newStartCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "start SERVICE|PROJECT/SERVICE|PROJECT...",
		Short: "Start services stopped with berth stop",
		Long: `start forgets the "stopped" intent of the services and creates their units
from the current config, as apply would. Starting a running service does
nothing.`,
		Example: `  berth start web
  berth start hello`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeServices(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runControl(cmd.Context(), g, "start", args, cmd.OutOrStdout())
		},
	}
}

func newRestartCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "restart SERVICE|PROJECT/SERVICE|PROJECT...",
		Short: "Restart services (a fresh container from the same spec)",
		Long: `restart stops each service's container and starts a new one from the same
frozen spec, through systemd (systemctl restart does the same). A service
stopped with 'berth stop' is started, and its intent forgotten. The spec is
not reloaded: to apply file changes use 'berth apply' (or let the agent).`,
		Example: `  berth restart web
  berth restart hello/web hello/db`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeServices(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runControl(cmd.Context(), g, "restart", args, cmd.OutOrStdout())
		},
	}
}

// runControl carries out stop, start or restart under the reconcile lock,
// so the agent sees the intent and the unit state together.
func runControl(ctx context.Context, g *globalOptions, verb string, args []string, out io.Writer) error {
	a, err := newApp(ctx, g)
	if err != nil {
		return err
	}
	defer a.Close()
	unlock, err := reconciler.Lock(ctx, g.StateDir, func() { fmt.Fprintln(out, "waiting for a reconcile in progress…") })
	if err != nil {
		return err
	}
	defer unlock()
	targets, entries, obs, err := a.resolveTargets(ctx, args)
	if err != nil {
		return err
	}
	var errs []error
	for _, t := range targets {
		var err error
		switch verb {
		case "stop":
			err = reconciler.SetIntent(g.StateDir, reconciler.Intent{Unit: t.Unit, Project: t.Project, Service: t.Service, Stopped: true, At: time.Now()})
			if err == nil {
				err = a.rec.Manager.Stop(ctx, t.Unit)
			}
		case "start", "restart":
			if err = reconciler.ClearIntent(g.StateDir, t.Unit); err != nil {
				break
			}
			running := false
			for _, o := range obs {
				if o.Unit == t.Unit && o.ActiveState == "active" {
					running = true
				}
			}
			switch {
			case verb == "restart" && running:
				err = a.sd.Restart(ctx, t.Unit)
			case running:
				fmt.Fprintf(out, "%s/%s: already running\n", t.Project, t.Service)
				continue
			default:
				err = a.startFromConfig(ctx, t, entries, obs)
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %s/%s: %w", verb, t.Project, t.Service, err))
			continue
		}
		fmt.Fprintf(out, "%s/%s: %s (%s)\n", t.Project, t.Service, map[string]string{"stop": "stopped", "start": "started", "restart": "restarted"}[verb], t.Unit)
	}
	return errors.Join(errs...)
}

// startFromConfig creates t's unit from the loaded config, as apply does for
// that one service.
func (a *app) startFromConfig(ctx context.Context, t target, entries []model.Entry, obs []reconciler.Observed) error {
	if t.Desired == nil {
		return fmt.Errorf("no file in %s declares it any more", a.g.ConfigDir)
	}
	p := reconciler.MakePlan(entries, obs, []string{t.Project})
	one := &reconciler.Plan{}
	for _, c := range p.Changes {
		if c.Unit == t.Unit && (c.Action == reconciler.Create || c.Action == reconciler.Recreate) {
			one.Changes = append(one.Changes, c)
		}
	}
	return a.rec.Apply(ctx, one)
}
