package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"time"

	"github.com/berth-dev/berth/reconciler"
	"github.com/berth-dev/berth/systemd"
	"github.com/berth-dev/berth/units"
	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/spf13/cobra"
)

type agentOptions struct {
	Interval time.Duration
	Debounce time.Duration
	Once     bool
	Passes   int
}

func newAgentCommand(g *globalOptions) *cobra.Command {
	o := &agentOptions{}
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Keep the units equal to the config dir (what berth.service runs)",
		Long: `agent is the long-running reconciler that berth.service starts at boot.

It first rebuilds every transient unit (they live in /run and are gone after
a reboot), then keeps them equal to the config dir:

  - it watches the config dir (project directories too) and reconciles once
    per burst of changes, so a git pull touching ten files is one reconcile;
  - it re-lists everything every --interval, so a missed event or a drifted
    unit is repaired within that period;
  - a unit stopped with systemctl stop, failed past its restart limit, or
    whose limits were changed with systemctl set-property is put back, with
    exponential backoff (1 s, 2 s, 4 s … 5 min) when repairs keep failing;
  - services stopped with 'berth stop' stay stopped until 'berth start';
  - a file that fails to load keeps its last-good state: its services keep
    running, and the error (file, line, field) shows in 'berth status' and
    the journal until the file is fixed.

Only changed services are recreated; images are pulled before the old
container stops. Stopping the agent leaves the units running. Its state
(status, last-good specs, intents, action log) is under <state-dir>/agent.`,
		Example: `  systemctl enable --now berth     # the usual way
  berth agent --interval 10s -v     # in the foreground, with debug logs
  berth agent --once                # one reconcile, as at boot, then exit
  journalctl -u berth -f            # what the agent does`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAgent(cmd.Context(), g, o, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.DurationVar(&o.Interval, "interval", envDuration("BERTH_AGENT_INTERVAL", 0), "re-list period ($BERTH_AGENT_INTERVAL; default: berth.yaml agent.interval, else 30s)")
	f.DurationVar(&o.Debounce, "debounce", envDuration("BERTH_AGENT_DEBOUNCE", 0), "quiet time after a config change before reconciling ($BERTH_AGENT_DEBOUNCE; default 300ms)")
	f.BoolVar(&o.Once, "once", false, "reconcile once and exit (non-zero when the reconcile had errors)")
	f.IntVar(&o.Passes, "passes", 1, "with --once: after the first reconcile, run this many minus one re-list passes (benchmarks: a steady-state no-op)")
	return cmd
}

func envDuration(key string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(key)); err == nil {
		return d
	}
	return def
}

func runAgent(ctx context.Context, g *globalOptions, o *agentOptions, out io.Writer) error {
	a, err := newApp(ctx, g)
	if err != nil {
		return err
	}
	defer a.Close()
	interval := o.Interval
	if interval <= 0 {
		interval = a.settings.Agent.Interval
	}
	if interval <= 0 {
		interval = 30 * time.Second
	}
	// Re-lists read only units that may have changed.
	a.rec.Manager = manager{c: a.sd, cache: &systemd.UnitCache{}}
	ag := &reconciler.Agent{
		Rec:      a.rec,
		Source:   &reconciler.Source{Dir: g.ConfigDir, StateDir: g.StateDir, Load: a.loadAgent, Log: a.log},
		Interval: interval,
		Quiet:    o.Debounce,
		Writes:   a.sd.Writes,
		Log:      a.log,
		Jobs:     agentJobs(a),
		Subscribe: func(ctx context.Context) (<-chan string, error) {
			evs, err := a.sd.Subscribe(ctx, units.Prefix)
			if err != nil {
				return nil, err
			}
			names := make(chan string, 16)
			go func() {
				defer close(names)
				for ev := range evs {
					// Only ends of runs can need a repair; starts
					// and reloads are ignored.
					if ev.ActiveState != "inactive" && ev.ActiveState != "failed" {
						continue
					}
					select {
					case names <- ev.Unit:
					default:
					}
				}
			}()
			return names, nil
		},
		// The agent idles between passes: what a load or an apply
		// allocated goes back to the system at once, not minutes later
		// (idle RSS).
		Settled: debug.FreeOSMemory,
		Ready: func() {
			// READY=1 after the first reconcile: units ordered after
			// berth.service start once the containers are up.
			if _, err := daemon.SdNotify(false, daemon.SdNotifyReady); err != nil {
				a.log.Warn("sd_notify failed", "err", err)
			}
		},
	}
	if o.Once {
		nerr := 0
		for i := range max(o.Passes, 1) {
			rec := ag.ReconcileOnce(ctx, i == 0)
			fmt.Fprintf(out, "reconciled (%s): %d services, %d changes, %d D-Bus writes in %s\n", rec.Trigger, rec.Services, rec.Changes, rec.Writes, time.Duration(rec.Duration).Round(time.Microsecond))
			for _, e := range rec.Errors {
				fmt.Fprintln(out, "error:", e)
			}
			nerr += len(rec.Errors)
		}
		if nerr > 0 {
			return fmt.Errorf("%d errors", nerr)
		}
		return nil
	}
	return ag.Run(ctx)
}
