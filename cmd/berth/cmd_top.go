package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/runtime/inspect"
	"github.com/berth-dev/berth/systemd"
)

type topOptions struct {
	Format string
}

// topEntry is one service's processes; a list of them is --format json.
type topEntry struct {
	Service   string            `json:"service"`
	Unit      string            `json:"unit"`
	Processes []inspect.Process `json:"processes"`
}

func newTopCommand(g *globalOptions) *cobra.Command {
	o := &topOptions{}
	cmd := &cobra.Command{
		Use:   "top [PROJECT[/SERVICE]|SERVICE]...",
		Short: "Show the processes of running services",
		Long: `top lists the processes in each running service's unit cgroup (the
container's PID 1, its children and any berth exec), as docker compose top
does: PID as seen from the host and inside the container, user (named as
the container names it), CPU% over the process's life, RSS and command.`,
		Example: `  berth top
  berth top hello
  berth top hello/web --format json`,
		ValidArgsFunction: completeServices(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTop(cmd.Context(), g, o, args, cmd.OutOrStdout())
		},
	}
	addFormatFlag(cmd.Flags(), &o.Format, "", "table", "json")
	return cmd
}

func runTop(ctx context.Context, g *globalOptions, o *topOptions, args []string, out io.Writer) error {
	sd, err := systemd.Connect(ctx)
	if err != nil {
		return err
	}
	defer sd.Close()
	us, err := selectUnits(ctx, sd, args)
	if err != nil {
		return err
	}
	entries := []topEntry{}
	for _, u := range us {
		ps, err := inspect.FS{}.Processes(u.ControlGroup)
		if err != nil {
			return fmt.Errorf("listing the processes of %s: %w", u.Name, err)
		}
		entries = append(entries, topEntry{Service: serviceOf(u).String(), Unit: u.Name, Processes: ps})
	}
	if o.Format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(entries)
	}
	for i, e := range entries {
		if i > 0 {
			fmt.Fprintln(out)
		}
		fmt.Fprintf(out, "%s (%s)\n", e.Service, e.Unit)
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PID\tCONTAINER PID\tUSER\tCPU %\tRSS\tCOMMAND")
		for _, p := range e.Processes {
			fmt.Fprintf(tw, "%d\t%d\t%s\t%.1f\t%s\t%s\n", p.PID, p.ContainerPID, p.User, p.CPU, humanBytes(int64(p.RSS)), p.Command)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}
