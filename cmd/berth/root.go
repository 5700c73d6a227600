package main

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/cmd/internal/launch"
	"github.com/berth-dev/berth/runtime/paths"
)

// globalOptions are the flags every command shares.
type globalOptions struct {
	ConfigDir string
	StateDir  string
	RunDir    string
	Verbose   bool
	// logOut is where logs go; nil is stderr. berth apply's live view
	// takes them on a terminal, so they scroll above its live region.
	logOut io.Writer
	// forceBuild is apply --build (build.go).
	forceBuild bool
}

func (g *globalOptions) logger() *slog.Logger {
	level := slog.LevelInfo
	if g.Verbose {
		level = slog.LevelDebug
	}
	var out io.Writer = os.Stderr
	if g.logOut != nil {
		out = g.logOut
	}
	return slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: level}))
}

// launch is the shared options as the launcher's commands take them.
func (g *globalOptions) launch() *launch.Globals {
	return &launch.Globals{ConfigDir: g.ConfigDir, StateDir: g.StateDir, RunDir: g.RunDir, Verbose: g.Verbose}
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// exitError carries a specific exit status (e.g. plan --detailed-exitcode).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return launch.ExitCode(err)
}

func newRootCommand() *cobra.Command {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:   "berth",
		Short: "Run Compose and Kubernetes files as systemd units",
		Long: `berth makes the Compose files in the config dir real as transient systemd
units. Each unit's main process is the container itself; logs go to journald.

Day to day: put projects in the config dir (a directory with compose.yaml,
or NAME.yaml), let the agent (berth.service) apply them, and look with
'berth ps', 'berth status', 'berth logs' and 'berth events'.

Exit status:
  0  success (plan: no changes, or changes without --detailed-exitcode)
  1  error: bad input, a failed pull/start/stop, no agent status …
  2  plan --detailed-exitcode: there are changes
  3  status --check: config files have errors or repairs are in backoff`,
		Example: `  berth plan                      # what would change
  berth apply                     # make it so
  berth ps                        # what runs
  berth logs -f hello             # its output
  berth status                    # what the agent did and what is wrong
  berth completion bash > /etc/bash_completion.d/berth`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			for _, d := range []*string{&g.ConfigDir, &g.StateDir, &g.RunDir} {
				abs, err := filepath.Abs(*d)
				if err != nil {
					return err
				}
				*d = abs
			}
			return nil
		},
	}
	f := root.PersistentFlags()
	f.StringVar(&g.ConfigDir, "config-dir", envOr("BERTH_CONFIG_DIR", paths.DefaultConfigDir), "desired state: one project per entry ($BERTH_CONFIG_DIR)")
	f.StringVar(&g.StateDir, "state-dir", envOr("BERTH_STATE_DIR", paths.DefaultStateDir), "images, volumes and specs ($BERTH_STATE_DIR)")
	f.StringVar(&g.RunDir, "run-dir", envOr("BERTH_RUN_DIR", paths.DefaultRunDir), "rootfs mounts and container state ($BERTH_RUN_DIR)")
	f.BoolVarP(&g.Verbose, "verbose", "v", false, "debug logging")
	root.AddCommand(
		newApplyCommand(g),
		newAgentCommand(g),
		newStatusCommand(g),
		newLogsCommand(g),
		newEventsCommand(g),
		newStopCommand(g),
		newStartCommand(g),
		newRestartCommand(g),
		newPullCommand(g),
		newPlanCommand(g),
		newConfigCommand(g),
		newPsCommand(g),
		newDownCommand(g),
		newAutoUpdateCommand(g),
		newGenerateCommand(g),
		newVersionCommand(),
		newHealthcheckCommand(g),
		newBuildCommand(g),
		newBuildRunCommand(g),
		newExecCommand(g),
		newCpCommand(g),
		newTopCommand(g),
		newStatsCommand(g),
		newLsCommand(g),
	)
	// run, cleanup, pod-run, pod-cleanup: units now execute berth-launcher,
	// but units written by earlier versions execute berth.
	root.AddCommand(withLegacyRun(newRunCommand(g), launch.Commands(g.launch))...)
	return root
}
