package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/cmd/internal/launch"
	"github.com/berth-dev/berth/runtime"
)

func newExecCommand(g *globalOptions) *cobra.Command {
	o := &launch.ExecOptions{}
	cmd := &cobra.Command{
		Use:   "exec [flags] [PROJECT/]SERVICE COMMAND [ARG...]",
		Short: "Run a command in a running service's container",
		Long: `exec runs a command inside the running container of a service (or of a
pod's container), as docker compose exec does: it joins the container's
namespaces, cgroup, capabilities, seccomp profile and environment, so it
counts against the unit's limits and systemctl status lists it. The
service's own process stays the unit's main process.

Interrupted by a signal (SIGINT, SIGTERM, SIGHUP), berth passes it to the
command, kills it if it has not exited 10 s later, and exits 128+N (130
for SIGINT, 143 for SIGTERM). With -it, Ctrl-C is a key the command reads.

Exit status: the command's; 126 when it cannot be run, 127 when it is not
found, 128+N when signal N interrupted berth, 1 when berth itself fails
(e.g. the service is not running).`,
		Example: `  berth exec -it hello/web sh
  berth exec web cat /etc/os-release
  berth exec -u nobody -w /tmp -e DEBUG=1 hello/web env`,
		Args:              cobra.MinimumNArgs(2),
		ValidArgsFunction: completeFirst(completeServices(g)),
		RunE: func(cmd *cobra.Command, args []string) error {
			code, err := runExec(cmd.Context(), g, o, args[0], args[1:], stdio{os.Stdin, os.Stdout, os.Stderr})
			if err != nil {
				return err
			}
			if code != 0 {
				os.Exit(code)
			}
			return nil
		},
	}
	launch.ExecFlags(cmd, o)
	return cmd
}

type stdio struct {
	in       *os.File
	out, err io.Writer
}

// runExec runs args in the service's container and returns its exit
// status; the error is berth's own failure (an *exitError for 126/127).
// With the launcher installed next to berth and the process's own stdio,
// berth hands the process over to it (launch.ExecArgs), so libcontainer's
// init re-executes the launcher's small binary instead of berth's.
func runExec(ctx context.Context, g *globalOptions, o *launch.ExecOptions, target string, args []string, std stdio) (int, error) {
	s, err := resolveOne(ctx, target)
	if err != nil {
		return 0, err
	}
	opts := runtime.Options{StateDir: g.StateDir, RunDir: g.RunDir}
	if !runtime.Running(opts, s.ID()) {
		return 0, notRunning(ctx, s)
	}
	if std.in == os.Stdin && std.out == os.Stdout && std.err == os.Stderr {
		if err := handOverToLauncher(g, *o, s.ID(), args); err != nil {
			return 0, err
		}
	}
	code, err := launch.Exec(ctx, opts, s.ID(), *o, args, std.in, std.out, std.err)
	var ee *runtime.ExecError
	switch {
	case errors.Is(err, runtime.ErrNotRunning):
		return 0, notRunning(ctx, s)
	case errors.As(err, &ee):
		return 0, &exitError{code: ee.Code, err: err}
	}
	return code, err
}

// handOverToLauncher replaces this process with the launcher's exec when
// the launcher is installed next to berth; it returns nil when it is not.
func handOverToLauncher(g *globalOptions, o launch.ExecOptions, id string, args []string) error {
	self, err := os.Executable()
	if err != nil {
		return nil
	}
	l := launcherNextTo(self)
	if l == "" {
		return nil
	}
	argv := append([]string{l}, launch.ExecArgs(g.launch(), o, id, args)...)
	if err := syscall.Exec(l, argv, os.Environ()); err != nil {
		return fmt.Errorf("executing %s: %w", l, err)
	}
	return nil
}
