package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/berth-dev/berth/autoupdate"
	"github.com/berth-dev/berth/runtime/paths"
	"github.com/spf13/cobra"
)

type autoUpdateOptions struct {
	DryRun   bool
	Rollback bool
	Format   string
	Parallel int
	History  int
}

// autoUpdateRow is one line of `berth auto-update`; its JSON form is the
// --format json output.
type autoUpdateRow struct {
	Unit    string `json:"unit"`
	Project string `json:"project"`
	Service string `json:"service"`
	Image   string `json:"image"`
	Policy  string `json:"policy"`
	From    string `json:"from,omitempty"`
	To      string `json:"to,omitempty"`
	Result  string `json:"result"`
	Error   string `json:"error,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

func newAutoUpdateCommand(g *globalOptions) *cobra.Command {
	o := &autoUpdateOptions{}
	cmd := &cobra.Command{
		Use:   "auto-update",
		Short: "Update services whose image tag moved, rolling back the ones that fail",
		Long: `auto-update compares the image digest each berth service runs with the digest
its policy names: the registry's for the tag (io.containers.autoupdate=registry
or x-berth autoupdate: registry; one HEAD request per distinct image) or the
local image store's (=local, e.g. after a manual pull). Services without a
policy are not updated; images pinned by digest never are.

For each service with a new digest it pulls the image while the old container
runs, restarts the unit on the new digest and watches it for the soak window
(berth.yaml autoupdate.soak, default 30s; x-berth soak per service): it must
come up, pass its health check if it has one, and neither crash, restart nor
turn unhealthy. Otherwise it is recreated on the previous digest, and the new
digest is recorded bad and skipped until the tag moves again. Services sharing
an image are updated in dependency order.

It prints UNIT, SERVICE, IMAGE, POLICY, FROM→TO and RESULT (pending, updated,
rolled-back, failed, skipped, unchanged, pinned, disabled) and exits 1 when
anything failed or was rolled back. Each update is recorded in the journal and
in the history (--history N shows it).`,
		Example: `  berth auto-update --dry-run
  berth auto-update
  berth auto-update --format json | jq '.[] | select(.result == "rolled-back")'
  berth auto-update --history 20`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("history") {
				return runAutoUpdateHistory(cmd.Context(), g, o, cmd.OutOrStdout())
			}
			return runAutoUpdate(cmd.Context(), g, o, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.DryRun, "dry-run", false, "only report what would be updated")
	f.BoolVar(&o.Rollback, "rollback", true, "recreate a service that fails on the new image on the previous one")
	addFormatFlag(f, &o.Format, "", "table", "json")
	f.IntVar(&o.Parallel, "parallel", 4, "registry requests in flight at most")
	f.IntVar(&o.History, "history", 0, "show the last N updates and rollbacks instead (0 = all)")
	return cmd
}

func runAutoUpdate(ctx context.Context, g *globalOptions, o *autoUpdateOptions, out io.Writer) error {
	t0 := time.Now()
	a, err := newApp(ctx, g)
	if err != nil {
		return err
	}
	defer a.Close()
	a.log.Debug("auto-update connected", "took", time.Since(t0))
	u := a.updater()
	u.Parallel = o.Parallel
	rep, err := u.Run(ctx, autoupdate.Options{DryRun: o.DryRun, NoRollback: !o.Rollback})
	if err != nil {
		return err
	}
	sort.Slice(rep.Results, func(i, j int) bool { return rep.Results[i].Unit < rep.Results[j].Unit })
	if err := printAutoUpdate(out, o.Format, rep.Results); err != nil {
		return err
	}
	if o.Format == "table" {
		for _, host := range slices.Sorted(maps.Keys(rep.RateLimits)) {
			fmt.Fprintf(out, "registry %s rate limit: %s\n", host, rep.RateLimits[host])
		}
	}
	if rep.PruneErr != nil {
		return fmt.Errorf("auto-update: updates done, but pruning images failed: %w", rep.PruneErr)
	}
	if autoupdate.Failed(rep.Results) {
		return errors.New("auto-update: some services failed or were rolled back")
	}
	return nil
}

func runAutoUpdateHistory(ctx context.Context, g *globalOptions, o *autoUpdateOptions, out io.Writer) error {
	events, err := autoupdate.State{Dir: paths.New("", g.StateDir, "").AutoUpdate()}.History(ctx, o.History)
	if err != nil {
		return err
	}
	if o.Format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if events == nil {
			events = []autoupdate.Event{}
		}
		return enc.Encode(events)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tUNIT\tIMAGE\tFROM→TO\tRESULT\tREASON")
	for _, e := range events {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s→%s\t%s\t%s\n", e.Time.Local().Format(time.DateTime), e.Unit, e.Image,
			shortDigest(e.From), shortDigest(e.To), e.Result, dash(e.Reason))
	}
	return tw.Flush()
}

func printAutoUpdate(out io.Writer, format string, results []autoupdate.Result) error {
	rows := make([]autoUpdateRow, 0, len(results))
	for _, r := range results {
		row := autoUpdateRow{Unit: r.Unit, Image: r.Image, Policy: string(r.Policy), From: r.From, To: r.To,
			Result: string(r.Status), Reason: r.Reason}
		if r.Service != nil {
			row.Project, row.Service = r.Service.Project, r.Service.Name
		}
		if r.Err != nil {
			row.Error = r.Err.Error()
		}
		rows = append(rows, row)
	}
	if format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "UNIT\tSERVICE\tIMAGE\tPOLICY\tFROM→TO\tRESULT")
	for _, r := range rows {
		result := r.Result
		if r.Error != "" {
			result += ": " + r.Error
		} else if r.Reason != "" {
			result += ": " + r.Reason
		}
		fmt.Fprintf(tw, "%s\t%s/%s\t%s\t%s\t%s→%s\t%s\n", r.Unit, r.Project, r.Service, r.Image, dash(r.Policy),
			shortDigest(r.From), shortDigest(r.To), result)
	}
	return tw.Flush()
}
