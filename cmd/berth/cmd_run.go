package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/cmd/internal/launch"
	"github.com/berth-dev/berth/reconciler"
	"github.com/berth-dev/berth/runtime"
	"github.com/berth-dev/berth/systemd"
)

type runOptions struct {
	Rm          bool
	Detach      bool
	Env         []string
	User        string
	NoDeps      bool
	Entrypoint  string
	Workdir     string
	Volumes     []string
	Name        string
	Interactive bool
	TTY         bool
	NoTTY       bool
}

func newRunCommand(g *globalOptions) *cobra.Command {
	o := &runOptions{}
	cmd := &cobra.Command{
		Use:   "run [flags] [PROJECT/]SERVICE [COMMAND [ARG...]]",
		Short: "Run a one-off command in a new container of a service",
		Long: `run starts a one-off container from a service's spec, as docker compose run
does, for migrations and admin tasks: a transient unit
berth-<project>-<service>-run-<id>.service with the service's image, volumes,
environment and networks (an address of its own), but without its published
ports, health checks or restart policy. The long-running service is not
touched. The services it depends on (depends_on) are started first, as
'berth start' does, unless --no-deps. A container of a Kubernetes pod
(POD/CONTAINER, as berth exec names it) runs in the pod's network, IPC and
UTS namespaces, beside the pod's containers: its pod is started first
whatever --no-deps says.

Its standard input is attached (-i, the default; -i=false gives it none),
and it gets a pseudo-terminal when berth's output is a terminal, as docker
compose run does: -t forces one, -T (--no-TTY) turns it off. With a
terminal, berth's own terminal is in raw mode and its size follows the
caller's window; the command's output and errors both come through it.
berth exits with the command's status once it ends; the unit, its
container and its address are gone then (--rm is the default and the only
mode). With -d berth prints the unit's name and returns; the output goes to
the journal (journalctl -u UNIT) and the unit goes away when the command
ends.

Interrupted by SIGINT, SIGTERM or SIGHUP (Ctrl-C without a terminal), berth
stops the one-off (its stop signal, SIGKILL after its grace period), waits
until its unit and container are gone and exits 128+N (130 for SIGINT,
143 for SIGTERM). With a terminal, Ctrl-C is a key the command reads.

-v SRC:DST[:ro] bind-mounts a host path; a relative SRC is relative to
berth's working directory, as with compose.

Exit status: the command's (128+N when killed by signal N); 128+N when
signal N interrupted berth; 1 when berth itself fails.`,
		Example: `  berth run hello/web sh -c 'echo migrated'
  berth run --no-deps -e DEBUG=1 hello/app ./manage.py migrate
  berth run -v ./dump.sql:/dump.sql:ro hello/db sh -c 'psql < /dump.sql'
  pg_dump mydb | berth run -T hello/db psql
  berth run --name shell web/main sh
  berth run -d --entrypoint /bin/sh hello/app -c 'sleep 60'`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeFirst(completeServices(g)),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.resolveTTY(cmd.Flags(), isTerminal(os.Stdin), isTerminal(os.Stdout))
			code, err := runRun(cmd.Context(), g, o, args[0], args[1:], stdio{os.Stdin, cmd.OutOrStdout(), cmd.ErrOrStderr()})
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
	f.BoolVar(&o.Rm, "rm", true, "remove the container when it exits (always: one-offs never stay)")
	f.BoolVarP(&o.Detach, "detach", "d", false, "start it and print the unit's name")
	f.StringArrayVarP(&o.Env, "env", "e", nil, "set an environment variable KEY=VALUE (repeatable)")
	f.StringVarP(&o.User, "user", "u", "", "user[:group] (name or id) to run as")
	f.BoolVar(&o.NoDeps, "no-deps", false, "do not start the services it depends on")
	f.StringVar(&o.Entrypoint, "entrypoint", "", "override the image's entrypoint (split on blanks)")
	f.StringVarP(&o.Workdir, "workdir", "w", "", "working directory inside the container")
	// -v is --volume here, as in compose; a local --verbose (without the
	// shorthand) keeps cobra from merging the global -v/--verbose.
	f.BoolVar(&g.Verbose, "verbose", false, "debug logging")
	f.StringArrayVarP(&o.Volumes, "volume", "v", nil, "bind-mount a host path SRC:DST[:ro] (repeatable)")
	f.StringVar(&o.Name, "name", "", "the one-off's id in its unit name instead of a random one")
	f.BoolVarP(&o.Interactive, "interactive", "i", true, "attach standard input")
	f.BoolVarP(&o.TTY, "tty", "t", true, "allocate a pseudo-terminal")
	f.BoolVarP(&o.NoTTY, "no-TTY", "T", false, "no pseudo-terminal (default: none unless stdout is a terminal)")
	return cmd
}

// resolveTTY sets NoTTY as docker compose run does: -t or -T when given
// (not both), else a pty only when stdout is a terminal, and stdin too
// unless -i was given.
func (o *runOptions) resolveTTY(f *pflag.FlagSet, stdinTerm, stdoutTerm bool) {
	switch {
	case f.Changed("tty") && !f.Changed("no-TTY"):
		o.NoTTY = !o.TTY
	case f.Changed("no-TTY"):
	default:
		o.NoTTY = !stdoutTerm || (!f.Changed("interactive") && !stdinTerm)
	}
}

// withLegacyRun returns the launcher's commands with run replaced by the
// one-off command, which still serves `run --spec FILE [--wait] ID`: the
// ExecStart= of units that earlier versions made run this binary.
func withLegacyRun(run *cobra.Command, launchers []*cobra.Command) []*cobra.Command {
	out := []*cobra.Command{run}
	var legacy *cobra.Command
	for _, c := range launchers {
		if c.Name() == "run" {
			legacy = c
		} else {
			out = append(out, c)
		}
	}
	if legacy == nil {
		return out
	}
	var spec, consoleSocket string
	var wait bool
	run.Flags().StringVar(&spec, "spec", "", "frozen service spec (units of earlier versions)")
	run.Flags().BoolVar(&wait, "wait", false, "with --spec: run to completion")
	run.Flags().StringVar(&consoleSocket, "console-socket", "", "with --wait: berth run -t's socket (units without berth-launcher)")
	_ = run.Flags().MarkHidden("spec")
	_ = run.Flags().MarkHidden("wait")
	_ = run.Flags().MarkHidden("console-socket")
	oneOff := run.RunE
	run.RunE = func(cmd *cobra.Command, args []string) error {
		if spec == "" {
			return oneOff(cmd, args)
		}
		if err := legacy.Flags().Set("spec", spec); err != nil {
			return err
		}
		if err := legacy.Flags().Set("wait", strconv.FormatBool(wait)); err != nil {
			return err
		}
		if err := legacy.Flags().Set("console-socket", consoleSocket); err != nil {
			return err
		}
		legacy.SetContext(cmd.Context())
		return legacy.RunE(legacy, args)
	}
	return out
}

// runRun runs a one-off container of target and returns its command's
// exit status (0 with -d); the error is berth's own failure.
func runRun(ctx context.Context, g *globalOptions, o *runOptions, target string, args []string, std stdio) (int, error) {
	if !o.Rm {
		return 0, errors.New("--rm=false is not supported: one-off containers are always removed")
	}
	req, err := o.request(args)
	if err != nil {
		return 0, err
	}
	// The bus connection ends with the context it was made with; an
	// interrupted run still needs it to stop its unit.
	a, err := newApp(context.WithoutCancel(ctx), g)
	if err != nil {
		return 0, err
	}
	defer a.Close()
	load := a.loader(nil)
	if req.Project, req.Service, err = oneOffTarget(ctx, load, target); err != nil {
		return 0, err
	}
	if !o.NoDeps {
		if err := startDeps(ctx, a, load, req, std.err); err != nil {
			return 0, err
		}
	}
	// After the dependencies: their pass's network GC would release an
	// address reserved before it.
	oo, err := a.rec.PrepareOneOff(ctx, load, req)
	if err != nil {
		return 0, err
	}
	release := func() error { return a.rec.ReleaseOneOff(context.WithoutCancel(ctx), load, oo) }
	code, err := runOneOff(ctx, a, o, oo, std)
	if o.Detach && err == nil {
		// The unit removes its spec when it ends; the agent's network GC
		// releases its address.
		return 0, nil
	}
	return code, errors.Join(err, release())
}

// request is the one-off o asks for (the target is set by the caller).
func (o *runOptions) request(args []string) (reconciler.OneOffRequest, error) {
	req := reconciler.OneOffRequest{ID: o.Name, Args: args, Env: o.Env, User: o.User, Workdir: o.Workdir,
		Entrypoint: strings.Fields(o.Entrypoint), TTY: !o.NoTTY && !o.Detach}
	if req.ID == "" {
		req.ID = shortID()
	}
	cwd, err := os.Getwd()
	if err != nil {
		return req, err
	}
	for _, v := range o.Volumes {
		m, err := reconciler.ParseBind(v, cwd)
		if err != nil {
			return req, err
		}
		req.Mounts = append(req.Mounts, m)
	}
	return req, nil
}

// runOneOff starts the prepared one-off's unit and, unless detached, stays
// attached until it is gone; interrupted, it stops it first.
func runOneOff(ctx context.Context, a *app, o *runOptions, oo *reconciler.OneOff, std stdio) (int, error) {
	props, err := oo.Unit.Properties()
	if err != nil {
		return 0, err
	}
	props = append(props, systemd.OneOffProps(!o.Detach)...)
	var console *runtime.ConsoleListener
	if oo.ConsoleSocket != "" {
		if console, err = runtime.ListenConsole(oo.ConsoleSocket); err != nil {
			return 0, err
		}
		defer console.Close()
	}
	outF, errF, closeStdio, err := stdioFiles(std.out, std.err)
	if err != nil {
		return 0, err
	}
	defer closeStdio()
	if !o.Detach {
		var in *os.File // nil: systemd's /dev/null
		if o.Interactive && console == nil {
			in = std.in
		}
		props = append(props, systemd.StdioProps(in, outF, errF)...)
	}
	at := launch.Attach(std.in, console != nil)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var pty *runtime.Console
	stopRelay := at.Relay(func(w, h uint16) error {
		if pty == nil {
			return nil
		}
		return pty.Resize(w, h)
	}, func(unix.Signal) { cancel() })
	defer stopRelay()

	job, err := a.sd.StartOneOff(ctx, oo.Unit.Name, props)
	if err != nil {
		return 0, err
	}
	if o.Detach {
		fmt.Fprintln(std.out, oo.Unit.Name)
		return 0, nil
	}
	type result struct {
		code int
		err  error
	}
	exited := make(chan result, 1)
	go func() {
		code, err := a.sd.Exited(ctx, oo.Unit.Name, job)
		exited <- result{code, err}
	}()
	masters := make(chan *os.File, 1)
	if console != nil {
		go func() {
			if m, err := console.Accept(ctx); err == nil {
				masters <- m
			}
		}()
	}
	attach := func(m *os.File) error {
		var in io.Reader
		if o.Interactive {
			in = std.in
		}
		p, err := runtime.AttachConsole(m, in, std.out)
		if err != nil {
			return err
		}
		if w, h := at.Size(); w > 0 {
			_ = p.Resize(w, h)
		}
		pty = p
		return nil
	}
	var res result
	var attachErr error
wait:
	for {
		select {
		case m := <-masters:
			if attachErr = attach(m); attachErr != nil {
				cancel()
				continue
			}
			if o.Interactive {
				defer at.Raw()()
			}
		case res = <-exited:
			break wait
		}
	}
	if console != nil && pty == nil && ctx.Err() == nil {
		// A quick command may end before its pty was taken; the master
		// waits in the socket's queue with the output it wrote.
		select {
		case m := <-masters:
			attachErr = attach(m)
		case <-time.After(2 * time.Second):
		}
	}
	if pty != nil {
		pty.Close()
	}
	err = errors.Join(res.err, attachErr)
	if ctx.Err() != nil {
		// Interrupted: stop the container (its stop signal, then SIGKILL);
		// the stop job ends after its cleanup.
		err = errors.Join(attachErr, a.sd.Stop(context.WithoutCancel(ctx), oo.Unit.Name))
	}
	_ = a.sd.ResetFailed(context.WithoutCancel(ctx), oo.Unit.Name)
	return at.ExitCode(res.code), err
}

// oneOffTarget resolves PROJECT/SERVICE, or a SERVICE only one project
// has, from the desired state.
func oneOffTarget(ctx context.Context, load func(context.Context) (reconciler.Loaded, error), arg string) (string, string, error) {
	if p, s, ok := strings.Cut(arg, "/"); ok {
		return p, s, nil
	}
	loaded, err := load(ctx)
	if err != nil {
		return "", "", err
	}
	ts, err := reconciler.ResolveTargets(loaded.Entries, nil, []string{arg})
	if err != nil {
		return "", "", err
	}
	if len(ts) != 1 || ts[0].Service != arg {
		return "", "", fmt.Errorf("%q names no single service; use PROJECT/SERVICE", arg)
	}
	return ts[0].Project, ts[0].Service, nil
}

// startDeps starts the services the target depends on, as berth start does.
func startDeps(ctx context.Context, a *app, load func(context.Context) (reconciler.Loaded, error), req reconciler.OneOffRequest, out io.Writer) error {
	loaded, err := load(ctx)
	if err != nil {
		return err
	}
	ts, err := reconciler.ResolveTargets(loaded.Entries, nil, []string{req.Project + "/" + req.Service})
	if err != nil {
		return err
	}
	var deps []string
	for _, t := range ts {
		for d := range t.Desired.DependsOn {
			deps = append(deps, req.Project+"/"+d)
		}
	}
	if len(deps) == 0 {
		return nil
	}
	return a.rec.Control(ctx, reconciler.ControlOptions{
		Load: load, Verb: reconciler.VerbStart, Args: deps,
		Waiting: func() { fmt.Fprintln(out, "waiting for a reconcile in progress…") },
		Report: func(t reconciler.Target, outcome string) {
			if outcome != "already running" {
				fmt.Fprintf(out, "%s/%s: %s (%s)\n", t.Project, t.Service, outcome, t.Unit)
			}
		},
	})
}

// stdioFiles gives the writers as files to hand to systemd: os.File
// writers as they are, anything else (a test's buffer) through a pipe.
func stdioFiles(stdout, stderr io.Writer) (outF, errF *os.File, closeAll func(), err error) {
	var closers []func()
	closeAll = func() {
		for _, c := range closers {
			c()
		}
	}
	file := func(w io.Writer) (*os.File, error) {
		if f, ok := w.(*os.File); ok {
			return f, nil
		}
		r, pw, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		done := make(chan struct{})
		go func() { _, _ = io.Copy(w, r); r.Close(); close(done) }()
		closers = append(closers, func() {
			pw.Close()
			select { // systemd may hold its copy a little longer
			case <-done:
			case <-time.After(2 * time.Second):
			}
		})
		return pw, nil
	}
	if outF, err = file(stdout); err == nil {
		errF, err = file(stderr)
	}
	if err != nil {
		closeAll()
	}
	return outF, errF, closeAll, err
}

// shortID is a one-off's id: 6 random hex digits, as short as a user
// types it and unlikely to collide among the one-offs of one service.
func shortID() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
