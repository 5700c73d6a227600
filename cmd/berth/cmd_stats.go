package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/containerd/console"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/runtime/inspect"
	"github.com/berth-dev/berth/systemd"
)

type statsOptions struct {
	NoStream bool
	Format   string
	// Interval is the refresh period and the CPU measuring window.
	Interval time.Duration
}

// statsRow is one service's usage; a list of them is --format json.
type statsRow struct {
	Service string `json:"service"`
	Unit    string `json:"unit"`
	inspect.Usage
}

func newStatsCommand(g *globalOptions) *cobra.Command {
	o := &statsOptions{Interval: time.Second}
	cmd := &cobra.Command{
		Use:   "stats [PROJECT[/SERVICE]|SERVICE]...",
		Short: "Show running services' CPU, memory, network, block I/O and PIDs",
		Long: `stats shows a live table of each running service's usage, as docker
compose stats does: CPU % (100% is one CPU), memory usage / limit and %,
network I/O of the container's network namespace, block I/O and PIDs, read
from the unit's cgroup (v1 or v2). It refreshes every second; --no-stream,
or output that is not a terminal, prints once.`,
		Example: `  berth stats
  berth stats --no-stream hello
  berth stats --no-stream --format json | jq '.[].memory_bytes'`,
		ValidArgsFunction: completeServices(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := console.ConsoleFromFile(os.Stdout); err != nil {
				o.NoStream = true // a pipe gets one table, not a stream of screens
			}
			return runStats(cmd.Context(), g, o, args, cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVar(&o.NoStream, "no-stream", false, "print once and exit")
	addFormatFlag(cmd.Flags(), &o.Format, "", "table", "json")
	return cmd
}

func runStats(ctx context.Context, g *globalOptions, o *statsOptions, args []string, out io.Writer) error {
	sd, err := systemd.Connect(ctx)
	if err != nil {
		return err
	}
	defer sd.Close()
	us, err := selectUnits(ctx, sd, args)
	if err != nil {
		return err
	}
	prev, errs := sampleAll(us)
	for i, err := range errs {
		if err != nil { // later, a unit that stops only drops out
			return fmt.Errorf("reading the cgroup of %s: %w", us[i].Name, err)
		}
	}
	window := o.Interval
	if o.NoStream {
		window = o.Interval / 2 // enough for a CPU reading, half the wait
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(window):
		}
		cur, _ := sampleAll(us)
		rows := []statsRow{}
		for i, u := range us {
			if prev[i] == nil || cur[i] == nil {
				continue // stopped meanwhile
			}
			rows = append(rows, statsRow{Service: serviceOf(u).String(), Unit: u.Name, Usage: inspect.Rate(*prev[i], *cur[i])})
		}
		if !o.NoStream {
			fmt.Fprint(out, "\x1b[H\x1b[2J") // home and clear, as docker stats redraws
		}
		if err := printStats(out, o.Format, rows); err != nil || o.NoStream {
			return err
		}
		prev, window = cur, o.Interval
	}
}

func sampleAll(us []systemd.Unit) ([]*inspect.Sample, []error) {
	out, errs := make([]*inspect.Sample, len(us)), make([]error, len(us))
	for i, u := range us {
		s, err := (inspect.FS{}).Sample(u.ControlGroup, u.MainPID)
		if err == nil {
			out[i] = &s
		}
		errs[i] = err
	}
	return out, errs
}

func printStats(out io.Writer, format string, rows []statsRow) error {
	if format == "json" {
		return json.NewEncoder(out).Encode(rows)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tCPU %\tMEM USAGE / LIMIT\tMEM %\tNET I/O\tBLOCK I/O\tPIDS")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%.2f%%\t%s / %s\t%.2f%%\t%s / %s\t%s / %s\t%d\n", r.Service, r.CPUPercent,
			humanBytes(int64(r.MemoryBytes)), humanBytes(int64(r.LimitBytes)), r.MemoryPercent,
			humanBytes(int64(r.NetRxBytes)), humanBytes(int64(r.NetTxBytes)),
			humanBytes(int64(r.BlockRead)), humanBytes(int64(r.BlockWrite)), r.PIDs)
	}
	return tw.Flush()
}
