// Command berth-launcher is what berth's units execute to start and clean
// up containers (berth-launcher run, cleanup, pod-run, pod-cleanup). It is
// the subset of berth that a container start needs, built without the
// Compose loader so that neither the launcher nor libcontainer's init,
// which re-executes it, pays for that loader's package initialisation.
// `make install` puts it next to berth, where berth looks for it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/cmd/internal/launch"
)

func main() {
	if launch.ReExec() {
		return
	}
	g := &launch.Globals{}
	root := &cobra.Command{
		Use:           "berth-launcher",
		Short:         "Start and clean up berth's containers (executed by berth's units)",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return g.Absolute()
		},
	}
	g.AddFlags(root)
	globals := func() *launch.Globals { return g }
	root.AddCommand(launch.Commands(globals)...)
	root.AddCommand(launch.ExecCommand(globals))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := root.ExecuteContext(ctx)
	stop()
	if err != nil {
		launch.PrintError("berth-launcher", err)
		os.Exit(launch.ExitCode(err))
	}
}
