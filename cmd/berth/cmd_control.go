package main

import (
	"context"
	"fmt"
	"io"

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

// runControl carries out stop, start or restart as one reconcile pass
// (reconciler.Control), under the reconcile lock.
func runControl(ctx context.Context, g *globalOptions, verb string, args []string, out io.Writer) error {
	a, err := newApp(ctx, g)
	if err != nil {
		return err
	}
	defer a.Close()
	return a.rec.Control(ctx, reconciler.ControlOptions{
		Load:    a.loader(nil),
		Verb:    reconciler.Verb(verb),
		Args:    args,
		Waiting: func() { fmt.Fprintln(out, "waiting for a reconcile in progress…") },
		Report: func(t reconciler.Target, outcome string) {
			if outcome == "already running" {
				fmt.Fprintf(out, "%s/%s: already running\n", t.Project, t.Service)
				return
			}
			fmt.Fprintf(out, "%s/%s: %s (%s)\n", t.Project, t.Service, outcome, t.Unit)
		},
	})
}
