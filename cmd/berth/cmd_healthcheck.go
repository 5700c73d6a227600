package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/berth-dev/berth/runtime"
	"github.com/berth-dev/berth/runtime/paths"
	"github.com/berth-dev/berth/systemd"
	"github.com/spf13/cobra"
)

type healthcheckOptions struct {
	Spec string
	// Unit is restarted when the liveness probe fails past its retries.
	Unit string
}

// newHealthcheckCommand is what a service's health timer runs: one round
// of its probes inside the container, recorded in health.json (berth ps
// shows it). It exits 0 whatever the probes say; only its own failures are
// errors.
func newHealthcheckCommand(g *globalOptions) *cobra.Command {
	o := &healthcheckOptions{}
	cmd := &cobra.Command{
		Use:    "healthcheck --spec FILE [--unit UNIT] ID",
		Short:  "Run a container's health and liveness probes once (used by health timers)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runHealthcheck(cmd.Context(), g, o)
		},
	}
	cmd.Flags().StringVar(&o.Spec, "spec", "", "frozen service spec written by apply")
	cmd.Flags().StringVar(&o.Unit, "unit", "", "unit to restart when the liveness probe fails")
	_ = cmd.MarkFlagRequired("spec")
	return cmd
}

func runHealthcheck(ctx context.Context, g *globalOptions, o *healthcheckOptions) error {
	log := g.logger()
	svc, err := paths.LoadSpec(ctx, o.Spec)
	if err != nil {
		return err
	}
	before, _ := runtime.ReadHealth(g.RunDir, svc.ID())
	res, err := runtime.CheckHealth(ctx, runtime.Options{StateDir: g.StateDir, RunDir: g.RunDir, Log: log}, svc)
	if errors.Is(err, runtime.ErrNotRunning) {
		return nil // restarting or stopped: nothing to check
	}
	if err != nil {
		return err
	}
	logTransitions(g, svc.ID(), before, res.Record)
	if res.LivenessFailed && o.Unit != "" {
		log.Warn("liveness probe failed; restarting", "unit", o.Unit, "output", res.Record.Liveness.LastOutput)
		sd, err := systemd.Connect(ctx)
		if err != nil {
			return err
		}
		defer sd.Close()
		// The health timer is bound to the unit and restarts with it; the
		// new container starts with a fresh record.
		if err := sd.RestartNoWait(ctx, o.Unit); err != nil {
			return fmt.Errorf("restarting %s after failed liveness probe: %w", o.Unit, err)
		}
	}
	return nil
}

// logTransitions logs a probe's status only when it changes, so a healthy
// service's journal is not filled with one line per check.
func logTransitions(g *globalOptions, id string, before, after *runtime.HealthRecord) {
	log := g.logger().With("container", id)
	pairs := []struct {
		name      string
		old, next *runtime.ProbeStatus
	}{{"health", nil, after.Health}, {"liveness", nil, after.Liveness}}
	if before != nil {
		pairs[0].old, pairs[1].old = before.Health, before.Liveness
	}
	for _, p := range pairs {
		if p.next == nil || (p.old != nil && p.old.Status == p.next.Status) {
			continue
		}
		log.Info("probe status changed", "probe", p.name, "status", p.next.Status,
			"failing_streak", p.next.FailingStreak, "exit", p.next.LastExitCode, "output", p.next.LastOutput)
	}
}
