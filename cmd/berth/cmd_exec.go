package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"

	"github.com/containerd/console"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/runtime"
)

type execOptions struct {
	Interactive bool
	TTY         bool
	User        string
	Workdir     string
	Env         []string
	Privileged  bool
}

func newExecCommand(g *globalOptions) *cobra.Command {
	o := &execOptions{}
	cmd := &cobra.Command{
		Use:   "exec [flags] [PROJECT/]SERVICE COMMAND [ARG...]",
		Short: "Run a command in a running service's container",
		Long: `exec runs a command inside the running container of a service (or of a
pod's container), as docker compose exec does: it joins the container's
namespaces, cgroup, capabilities, seccomp profile and environment, so it
counts against the unit's limits and systemctl status lists it. The
service's own process stays the unit's main process.

Exit status: the command's; 126 when it cannot be run, 127 when it is not
found, 1 when berth itself fails (e.g. the service is not running).`,
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
	f := cmd.Flags()
	f.SetInterspersed(false) // flags after SERVICE belong to COMMAND
	f.BoolVarP(&o.Interactive, "interactive", "i", false, "forward stdin")
	f.BoolVarP(&o.TTY, "tty", "t", false, "allocate a pseudo-terminal")
	f.StringVarP(&o.User, "user", "u", "", "user[:group] (name or id) to run as; default the service's user")
	f.StringVarP(&o.Workdir, "workdir", "w", "", "working directory inside the container")
	f.StringArrayVarP(&o.Env, "env", "e", nil, "set an environment variable KEY=VALUE (repeatable)")
	f.BoolVar(&o.Privileged, "privileged", false, "give the command all capabilities")
	return cmd
}

type stdio struct {
	in       *os.File
	out, err io.Writer
}

// runExec runs args in the service's container and returns its exit
// status; the error is berth's own failure (an *exitError for 126/127).
func runExec(ctx context.Context, g *globalOptions, o *execOptions, target string, args []string, std stdio) (int, error) {
	s, err := resolveOne(ctx, target)
	if err != nil {
		return 0, err
	}
	req := runtime.ExecRequest{Args: args, User: o.User, Cwd: o.Workdir, Env: o.Env,
		Privileged: o.Privileged, TTY: o.TTY, Stdout: std.out, Stderr: std.err}
	if o.Interactive {
		req.Stdin = std.in
	}
	var term console.Console
	if o.TTY {
		if c, err := console.ConsoleFromFile(std.in); err == nil {
			term = c
			if ws, err := c.Size(); err == nil {
				req.Width, req.Height = ws.Width, ws.Height
			}
		}
	}
	exe, err := runtime.Exec(ctx, runtime.Options{StateDir: g.StateDir, RunDir: g.RunDir}, s.ID(), req)
	var ee *runtime.ExecError
	switch {
	case errors.Is(err, runtime.ErrNotRunning):
		return 0, notRunning(ctx, s)
	case errors.As(err, &ee):
		return 0, &exitError{code: ee.Code, err: err}
	case err != nil:
		return 0, err
	}
	if term != nil && o.Interactive {
		if err := term.SetRaw(); err == nil {
			defer term.Reset()
		}
	}
	stop := forwardSignals(exe, term)
	defer stop()
	return exe.Wait()
}

// forwardSignals passes SIGWINCH to the pty as its new size and the
// terminating signals to the process, which decides whether to exit.
func forwardSignals(exe *runtime.Execution, term console.Console) func() {
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, unix.SIGWINCH, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case sig := <-ch:
				if sig != unix.SIGWINCH {
					_ = exe.Signal(sig)
				} else if term != nil {
					if ws, err := term.Size(); err == nil {
						_ = exe.Resize(ws.Width, ws.Height)
					}
				}
			}
		}
	}()
	return func() { signal.Stop(ch); close(done) }
}
