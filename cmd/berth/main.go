// Command berth runs Compose and Kubernetes files as systemd units.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/berth-dev/berth/cmd/internal/launch"
)

func main() {
	// libcontainer's init and the reaper, when units started by earlier
	// versions run containers through this binary.
	if launch.ReExec() {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCommand().ExecuteContext(ctx)
	stop()
	if err != nil {
		launch.PrintError("berth", err)
		os.Exit(exitCode(err))
	}
}
