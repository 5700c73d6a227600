// Command berth runs Compose and Kubernetes files as systemd units.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/sirupsen/logrus"

	"github.com/berth-dev/berth/cmd/internal/launch"
)

func main() {
	// libcontainer's init and the reaper, when units started by earlier
	// versions run containers through this binary.
	if launch.ReExec() {
		return
	}
	// compose-go prints its notices (unset variables, `version`, YAML 1.1
	// booleans …) through logrus as bare "level=warning" lines; package
	// compose reports the same cases as warnings with file and line, so
	// these would only repeat them, once per load, without a line.
	logrus.SetOutput(io.Discard)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCommand().ExecuteContext(ctx)
	stop()
	if err != nil {
		launch.PrintError("berth", err)
		os.Exit(exitCode(err))
	}
}
