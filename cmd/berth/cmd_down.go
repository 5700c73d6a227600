package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

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
	p, err := a.rec.Down(ctx, project)
	if p != nil {
		for _, c := range p.Changes {
			fmt.Fprintf(out, "%s/%s: removed (%s)\n", c.Project, c.Service, c.Unit)
		}
		if len(p.Changes) == 0 {
			fmt.Fprintf(out, "project %s has no units\n", project)
		}
	}
	if err != nil {
		if o.Volumes {
			return fmt.Errorf("%w (volumes kept: a container may still use them)", err)
		}
		return err
	}
	if err := a.removeProjectNetworks(ctx, project); err != nil {
		return err
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
