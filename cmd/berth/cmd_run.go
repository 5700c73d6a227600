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

	"github.com/berth-dev/berth/reconciler"
	"github.com/berth-dev/berth/systemd"
)

type runOptions struct {
	Rm         bool
	Detach     bool
	Env        []string
	User       string
	NoDeps     bool
	Entrypoint string
	Workdir    string
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
'berth start' does, unless --no-deps.

Its output goes to berth's standard output and error, and berth exits with
the command's status once it ends; the unit, its container and its address
are gone then (--rm is the default and the only mode). With -d berth prints
the unit's name and returns; the output goes to the journal
(journalctl -u UNIT) and the unit goes away when the command ends.
Standard input is not forwarded.

Exit status: the command's (128+N when killed by signal N); 1 when berth
itself fails.`,
		Example: `  berth run hello/web sh -c 'echo migrated'
  berth run --no-deps -e DEBUG=1 hello/app ./manage.py migrate
  berth run -d --entrypoint /bin/sh hello/app -c 'sleep 60'`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeFirst(completeServices(g)),
		RunE: func(cmd *cobra.Command, args []string) error {
			code, err := runRun(cmd.Context(), g, o, args[0], args[1:], cmd.OutOrStdout(), cmd.ErrOrStderr())
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
	return cmd
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
	var spec string
	var wait bool
	run.Flags().StringVar(&spec, "spec", "", "frozen service spec (units of earlier versions)")
	run.Flags().BoolVar(&wait, "wait", false, "with --spec: run to completion")
	_ = run.Flags().MarkHidden("spec")
	_ = run.Flags().MarkHidden("wait")
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
		legacy.SetContext(cmd.Context())
		return legacy.RunE(legacy, args)
	}
	return out
}

// runRun runs a one-off container of target and returns its command's
// exit status (0 with -d); the error is berth's own failure.
func runRun(ctx context.Context, g *globalOptions, o *runOptions, target string, args []string, stdout, stderr io.Writer) (int, error) {
	if !o.Rm {
		return 0, errors.New("--rm=false is not supported: one-off containers are always removed")
	}
	a, err := newApp(ctx, g)
	if err != nil {
		return 0, err
	}
	defer a.Close()
	load := a.loader(nil)
	project, service, err := oneOffTarget(ctx, load, target)
	if err != nil {
		return 0, err
	}
	req := reconciler.OneOffRequest{Project: project, Service: service, ID: shortID(),
		Args: args, Env: o.Env, User: o.User, Workdir: o.Workdir, Entrypoint: strings.Fields(o.Entrypoint)}
	if !o.NoDeps {
		if err := startDeps(ctx, a, load, req, stderr); err != nil {
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
	props, err := oo.Unit.Properties()
	if err != nil {
		return 0, errors.Join(err, release())
	}
	props = append(props, systemd.OneOffProps(!o.Detach)...)
	outF, errF, closeStdio, err := stdioFiles(stdout, stderr)
	if err != nil {
		return 0, errors.Join(err, release())
	}
	defer closeStdio()
	if !o.Detach {
		props = append(props, systemd.StdioProps(outF, errF)...)
	}
	job, err := a.sd.StartOneOff(ctx, oo.Unit.Name, props)
	if err != nil {
		return 0, errors.Join(err, release())
	}
	if o.Detach {
		// The unit removes its spec when it ends; the agent's network GC
		// releases its address.
		fmt.Fprintln(stdout, oo.Unit.Name)
		return 0, nil
	}
	code, err := a.sd.Exited(ctx, oo.Unit.Name, job)
	if ctx.Err() != nil {
		// Interrupted: stop the container (its stop signal, then SIGKILL).
		err = errors.Join(err, a.sd.Stop(context.WithoutCancel(ctx), oo.Unit.Name))
	}
	_ = a.sd.ResetFailed(context.WithoutCancel(ctx), oo.Unit.Name)
	return code, errors.Join(err, release())
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
