package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/compose"
	"github.com/berth-dev/berth/runtime"
	"github.com/spf13/cobra"
)

// run and cleanup are what the units execute; users do not call them.

func newRunCommand(g *globalOptions) *cobra.Command {
	var spec string
	var wait bool
	cmd := &cobra.Command{
		Use:    "run --spec FILE [--wait] ID",
		Short:  "Start a container as the calling unit's main process (used by units)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := compose.LoadSpec(spec)
			if err != nil {
				return err
			}
			st, err := loadSettings(g.ConfigDir)
			if err != nil {
				return err
			}
			opts := runtime.Options{StateDir: g.StateDir, RunDir: g.RunDir, Insecure: st.InsecureRegistries, CNIPluginDir: st.CNIPluginDir, Log: g.logger()}
			if wait {
				err := runtime.RunToCompletion(cmd.Context(), opts, svc)
				var ee *runtime.ExitError
				if errors.As(err, &ee) {
					return &exitError{code: ee.Code, err: err}
				}
				return err
			}
			return runtime.Run(cmd.Context(), opts, svc)
		},
	}
	cmd.Flags().StringVar(&spec, "spec", "", "frozen service spec written by apply")
	cmd.Flags().BoolVar(&wait, "wait", false, "run the container to completion and exit with its status (oneshot units)")
	_ = cmd.MarkFlagRequired("spec")
	return cmd
}

func newCleanupCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:    "cleanup ID",
		Short:  "Remove everything a container left behind (used by units)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := loadSettings(g.ConfigDir)
			if err != nil {
				return err
			}
			opts := runtime.Options{StateDir: g.StateDir, RunDir: g.RunDir, CNIPluginDir: st.CNIPluginDir, Log: g.logger()}
			return runtime.Cleanup(cmd.Context(), opts, args[0])
		},
	}
}

// newStopContainerCommand is the units' ExecStop=: the stop signal to the
// main process ($MAINPID, which systemd sets for ExecStop=), SIGKILL after
// the grace period.
func newStopContainerCommand() *cobra.Command {
	var sig string
	var grace time.Duration
	cmd := &cobra.Command{
		Use:    "stop-container --signal SIG --grace DURATION",
		Short:  "Stop the calling unit's container as docker stop does (used by units)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s := unix.SignalNum(strings.ToUpper(sig))
			if s == 0 {
				return fmt.Errorf("unknown signal %q", sig)
			}
			pid, _ := strconv.Atoi(os.Getenv("MAINPID"))
			return runtime.StopMain(cmd.Context(), pid, s, grace)
		},
	}
	cmd.Flags().StringVar(&sig, "signal", "SIGTERM", "stop signal")
	cmd.Flags().DurationVar(&grace, "grace", 10*time.Second, "time before SIGKILL")
	return cmd
}
