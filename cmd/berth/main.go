// Command berth runs Compose and Kubernetes files as systemd units.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/berth-dev/berth/runtime"
)

func main() {
	// libcontainer re-executes this binary as "init" inside the new
	// container; that path must not touch cobra or anything else.
	if len(os.Args) > 1 && os.Args[1] == "init" {
		runtime.Init()
		return
	}
	// The small init of `init: true` containers.
	if len(os.Args) > 1 && os.Args[1] == runtime.ReaperCommand {
		os.Exit(runtime.Reaper(os.Args[2:]))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCommand().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "berth:", err)
		os.Exit(exitCode(err))
	}
}
