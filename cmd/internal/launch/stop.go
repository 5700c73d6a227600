package launch

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/runtime"
)

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
			// The unit's environment names its container; its state says
			// whether the image's STOPSIGNAL applies (no stop_signal).
			id := ""
			if p, svc := os.Getenv("BERTH_PROJECT"), os.Getenv("BERTH_SERVICE"); p != "" && svc != "" {
				id = p + "-" + svc
			}
			sig = runtime.StopSignalFor(os.Getenv("BERTH_RUN_DIR"), id, sig)
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
