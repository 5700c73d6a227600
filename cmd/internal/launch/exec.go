package launch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/runtime"
)

// ExecOptions are the flags of `berth exec`.
type ExecOptions struct {
	Interactive bool
	TTY         bool
	User        string
	Workdir     string
	Env         []string
	Privileged  bool
}

// execKillAfter is how long an interrupted exec's process has to exit
// after the signal is passed on before it is killed.
const execKillAfter = 10 * time.Second

// Exec runs args in container id with o, attached to in/out/errOut, and
// returns its exit status: the process's, or 128+N when signal N
// interrupted berth (the process got the signal, and SIGKILL if it had not
// exited execKillAfter later). Errors are runtime.ErrNotRunning,
// *runtime.ExecError (126, 127) or berth's own failure.
func Exec(ctx context.Context, opts runtime.Options, id string, o ExecOptions, args []string, in *os.File, out, errOut io.Writer) (int, error) {
	req := runtime.ExecRequest{Args: args, User: o.User, Cwd: o.Workdir, Env: o.Env,
		Privileged: o.Privileged, TTY: o.TTY, Stdout: out, Stderr: errOut}
	if o.Interactive {
		req.Stdin = in
	}
	a := Attach(in, o.TTY)
	req.Width, req.Height = a.Size()
	exe, err := runtime.Exec(ctx, opts, id, req)
	if err != nil {
		return 0, err
	}
	if o.Interactive {
		defer a.Raw()()
	}
	var kill *time.Timer
	stop := a.Relay(exe.Resize, func(sig unix.Signal) {
		_ = exe.Signal(sig)
		if kill == nil && sig != unix.SIGQUIT {
			kill = time.AfterFunc(execKillAfter, func() { _ = exe.Signal(unix.SIGKILL) })
		}
	})
	code, err := exe.Wait()
	stop()
	if kill != nil {
		kill.Stop()
	}
	return a.ExitCode(code), err
}

// ExecArgs is the launcher command line (after the binary) that runs
// Exec: `berth exec` hands over to it, so libcontainer's init, which
// re-executes the running binary, starts the launcher's small binary
// instead of berth's.
func ExecArgs(g *Globals, o ExecOptions, id string, args []string) []string {
	out := []string{"--state-dir", g.StateDir, "--run-dir", g.RunDir, "exec"}
	flag := func(name string, on bool) {
		if on {
			out = append(out, "--"+name)
		}
	}
	flag("interactive", o.Interactive)
	flag("tty", o.TTY)
	flag("privileged", o.Privileged)
	if o.User != "" {
		out = append(out, "--user", o.User)
	}
	if o.Workdir != "" {
		out = append(out, "--workdir", o.Workdir)
	}
	for _, e := range o.Env {
		out = append(out, "--env", e)
	}
	return append(append(out, "--", id), args...)
}

// ExecCommand is the launcher's hidden exec, which `berth exec` hands
// over to (ExecArgs).
func ExecCommand(globals func() *Globals) *cobra.Command {
	o := &ExecOptions{}
	cmd := &cobra.Command{
		Use:    "exec [flags] ID COMMAND [ARG...]",
		Short:  "Run a command in a running container (berth exec hands over to this)",
		Hidden: true,
		Args:   cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			g := globals()
			opts := runtime.Options{StateDir: g.StateDir, RunDir: g.RunDir}
			code, err := Exec(cmd.Context(), opts, args[0], *o, args[1:], os.Stdin, os.Stdout, os.Stderr)
			var ee *runtime.ExecError
			switch {
			case errors.Is(err, runtime.ErrNotRunning):
				return fmt.Errorf("container %s is not running", args[0])
			case errors.As(err, &ee):
				PrintError("berth", err)
				os.Exit(ee.Code)
			case err != nil:
				return err
			}
			os.Exit(code)
			return nil
		},
	}
	ExecFlags(cmd, o)
	return cmd
}

// ExecFlags declares exec's flags on cmd: `berth exec` and the launcher's
// exec parse the same command line (ExecArgs writes it).
func ExecFlags(cmd *cobra.Command, o *ExecOptions) {
	f := cmd.Flags()
	f.SetInterspersed(false) // flags after the container belong to COMMAND
	f.BoolVarP(&o.Interactive, "interactive", "i", false, "forward stdin")
	f.BoolVarP(&o.TTY, "tty", "t", false, "allocate a pseudo-terminal")
	f.StringVarP(&o.User, "user", "u", "", "user[:group] (name or id) to run as; default the service's user")
	f.StringVarP(&o.Workdir, "workdir", "w", "", "working directory inside the container")
	f.StringArrayVarP(&o.Env, "env", "e", nil, "set an environment variable KEY=VALUE (repeatable)")
	f.BoolVar(&o.Privileged, "privileged", false, "give the command all capabilities")
}
