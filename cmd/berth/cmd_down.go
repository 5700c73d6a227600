package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/reconciler"
	"github.com/berth-dev/berth/runtime"
)

// downOptions are the flags of berth down.
type downOptions struct {
	Volumes bool
}

func newDownCommand(g *globalOptions) *cobra.Command {
	var o downOptions
	cmd := &cobra.Command{
		Use:   "down PROJECT",
		Short: "Stop and remove every unit of a project",
		Long: `down stops the project's units and removes what they made. The project's
files stay; the next apply (or the agent) creates the units again unless the
files are removed too. Named volumes stay unless --volumes is given, as with
docker compose down; anonymous volumes always go with their containers.`,
		Example: "  berth down hello\n  berth down --volumes hello",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDown(cmd.Context(), g, o, args[0], cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVar(&o.Volumes, "volumes", false, "also remove the named volumes the project created")
	return cmd
}

func runDown(ctx context.Context, g *globalOptions, o downOptions, project string, out io.Writer) error {
	a, err := newApp(ctx, g)
	if err != nil {
		return err
	}
	defer a.Close()
	// A pass as if the project's files were gone: its units are removed
	// and network GC drops its networks, under the reconcile lock.
	load := func(ctx context.Context) (reconciler.Loaded, error) {
		entries, err := loadConfigDir(ctx, g.ConfigDir)
		if err != nil {
			// The units go all the same; GC could not tell whose networks are whose.
			a.log.Warn("networks kept: the config dir does not load", "project", project, "err", err)
			return reconciler.Loaded{Unknown: true}, nil
		}
		return reconciler.Loaded{Entries: entries, Reloaded: true}, nil
	}
	res, err := a.rec.Pass(ctx, reconciler.Options{
		Load:    load,
		Down:    []string{project},
		Waiting: func() { fmt.Fprintln(out, "waiting for a reconcile in progress…") },
	})
	if err != nil {
		return err
	}
	for _, c := range res.Plan.Changes {
		fmt.Fprintf(out, "%s/%s: removed (%s)\n", c.Project, c.Service, c.Unit)
	}
	if len(res.Plan.Changes) == 0 {
		fmt.Fprintf(out, "project %s has no units\n", project)
	}
	if res.ApplyErr != nil {
		if o.Volumes {
			return fmt.Errorf("%w (volumes kept: a container may still use them)", res.ApplyErr)
		}
		return res.ApplyErr
	}
	if res.GCErr != nil {
		return res.GCErr
	}
	if !o.Volumes {
		return nil
	}
	removed, err := runtime.RemoveProjectVolumes(g.StateDir, project)
	for _, v := range removed {
		fmt.Fprintf(out, "volume %s: removed\n", v)
	}
	return err
}
