package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/berth-dev/berth/reconciler"
	"github.com/berth-dev/berth/runtime/image"
	"github.com/spf13/cobra"
)

func newApplyCommand(g *globalOptions) *cobra.Command {
	var noRollback bool
	cmd := &cobra.Command{
		Use:   "apply [PROJECT...]",
		Short: "Make the units equal to the config dir",
		Long: `apply loads every project in the config dir (or only those named), pulls
their images, and creates, recreates or removes units so that systemd runs
exactly what the files say. Unchanged services keep running untouched. A
project whose files fail to load keeps its running units.

It prints the plan (as 'berth plan' does, without the unchanged services),
then what it does. On a terminal that is live: a progress bar per image
layer being downloaded and a line per unit being created, recreated or
removed, each turning into a ✔/✘ line when done. Without a terminal (a
pipe, a file, TERM=dumb) it prints one plain line per action:
"PROJECT/SERVICE: created (UNIT)" or "PROJECT/SERVICE: ACTION failed: ERROR".

A recreate is a transaction: when the new container fails to start, to
become active, ready and healthy within its start timeout (TimeoutStartSec,
5 min unless x-berth.unit sets it), or exits, restarts or turns unhealthy
within its soak (x-berth.soak, default 2s), the previous container is put
back and the line reads "PROJECT/SERVICE: rolled back (UNIT): ERROR". The
failed change stays pending in 'berth plan' and shows in 'berth status';
the agent holds it until the files change, and apply tries it again.
--no-rollback leaves the failed container as it is. apply exits non-zero
when anything failed or was rolled back.`,
		Example: `  berth apply
  berth apply hello
  berth apply | tee apply.log      # plain lines`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runApply(cmd.Context(), g, args, noRollback, cmd.OutOrStdout())
		},
	}
	addBuildFlag(cmd, g)
	cmd.Flags().BoolVar(&noRollback, "no-rollback", false, "leave a recreated service that fails on its new spec failed instead of putting the previous one back")
	return cmd
}

func runApply(ctx context.Context, g *globalOptions, projects []string, noRollback bool, out io.Writer) error {
	// On a terminal: pull progress bars per layer and a live line per
	// unit (logs scroll above them); otherwise one plain line per action.
	view := newApplyView(out)
	defer view.close()
	if lw, ok := view.(io.Writer); ok && isTerminal(os.Stderr) {
		g.logOut = lw
	}
	a, err := newApp(ctx, g)
	if err != nil {
		return err
	}
	defer a.Close()
	if a.rec.Puller != nil {
		a.rec.Puller = viewPuller{a.rec.Puller, view}
	}
	res, err := a.rec.Pass(image.WithProgress(ctx, view.pull), reconciler.Options{
		Load:  a.loader(projects),
		Scope: reconciler.Scope{Only: projects},
		// The agent may be reconciling; never act on the same units at once.
		Waiting: func() {
			view.print(func(w io.Writer) { fmt.Fprintln(w, "waiting for the agent's reconcile to finish…") })
		},
		Review: func(r *reconciler.Result) {
			a.applyBuildFlag(ctx, r.Plan, out)
			view.print(func(w io.Writer) { printPlan(w, r.Plan, false) })
		},
		NoRollback: noRollback,
		Starting:   view.starting,
		Progress:   view.done,
	})
	if err != nil {
		return err
	}
	return res.Err()
}

func pastTense(a reconciler.Action) string {
	switch a {
	case reconciler.Create:
		return "created"
	case reconciler.Recreate:
		return "recreated"
	case reconciler.Remove:
		return "removed"
	}
	return string(a)
}
