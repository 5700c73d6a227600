package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

func newDownCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "down PROJECT",
		Short: "Stop and remove every unit of a project",
		Long: `down stops the project's units and removes what they made. The project's
files stay; the next apply (or the agent) creates the units again unless the
files are removed too.`,
		Example: "  berth down hello",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDown(cmd.Context(), g, args[0], cmd.OutOrStdout())
		},
	}
}

func runDown(ctx context.Context, g *globalOptions, project string, out io.Writer) error {
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
	return err
}
