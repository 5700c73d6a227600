package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/compose/model"
	"github.com/berth-dev/berth/systemd"
	"github.com/berth-dev/berth/units"
)

type lsOptions struct {
	Format string
}

// lsRow is one project; a list of them is --format json.
type lsRow struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	// ConfigFile is the file or directory in the config dir that declares
	// the project, "" when none does any more.
	ConfigFile string `json:"config_file,omitempty"`
	// Updated is when the project's newest unit last started: an apply
	// that created or recreated a service, or a restart.
	Updated time.Time `json:"updated,omitzero"`
	// Error is the config file's load error.
	Error string `json:"error,omitempty"`
}

func newLsCommand(g *globalOptions) *cobra.Command {
	o := &lsOptions{}
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List projects with their status",
		Long: `ls lists the projects in the config dir and those systemd still runs, as
docker compose ls does: status counts the services' units by state
(running, starting, stopping, exited, failed), the config file declaring
the project, and when its newest unit last started. A project whose file
fails to load shows "error" and keeps its running units.`,
		Example: `  berth ls
  berth ls --format json | jq -r '.[].name'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLs(cmd.Context(), g, o, cmd.OutOrStdout())
		},
	}
	addFormatFlag(cmd.Flags(), &o.Format, "", "table", "json")
	return cmd
}

func runLs(ctx context.Context, g *globalOptions, o *lsOptions, out io.Writer) error {
	entries, err := loadConfigDir(ctx, g.ConfigDir)
	if err != nil {
		return err
	}
	sd, err := systemd.Connect(ctx)
	if err != nil {
		return err
	}
	defer sd.Close()
	us, err := berthServices(ctx, sd)
	if err != nil {
		return err
	}
	rows := projectRows(entries, us)
	if o.Format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATUS\tCONFIG FILE\tUPDATED")
	for _, r := range rows {
		updated := "-"
		if !r.Updated.IsZero() {
			updated = r.Updated.Local().Format(time.DateTime)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, r.Status, dash(r.ConfigFile), updated)
	}
	return tw.Flush()
}

// projectRows joins what the config dir declares with the units systemd
// has, one row per project, sorted by name.
func projectRows(entries []model.Entry, us []systemd.Unit) []lsRow {
	byName := map[string]*lsRow{}
	row := func(name string) *lsRow {
		if byName[name] == nil {
			byName[name] = &lsRow{Name: name}
		}
		return byName[name]
	}
	for _, e := range entries {
		r := row(e.Name)
		if e.Project != nil {
			r = row(e.Project.Name)
		}
		r.ConfigFile = e.Path
		if e.Err != nil {
			r.Error = e.Err.Error()
		}
	}
	counts := map[string]map[string]int{}
	for _, u := range us {
		p := u.Environment[units.EnvProject]
		r := row(p)
		if counts[p] == nil {
			counts[p] = map[string]int{}
		}
		counts[p][unitStatus(u.ActiveState)]++
		if u.Since.After(r.Updated) {
			r.Updated = u.Since
		}
	}
	out := make([]lsRow, 0, len(byName))
	for name, r := range byName {
		r.Status = statusSummary(counts[name])
		if r.Error != "" {
			r.Status = strings.TrimPrefix(r.Status+", error", "stopped, ")
		}
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// unitStatus names a unit's ActiveState as docker names container states.
func unitStatus(active string) string {
	switch active {
	case "active":
		return "running"
	case "activating", "reloading":
		return "starting"
	case "deactivating":
		return "stopping"
	case "failed":
		return "failed"
	}
	return "exited"
}

// statusSummary is docker compose ls's "running(2), exited(1)"; a
// project without units is "stopped".
func statusSummary(c map[string]int) string {
	var parts []string
	for _, s := range []string{"running", "starting", "stopping", "exited", "failed"} {
		if c[s] > 0 {
			parts = append(parts, fmt.Sprintf("%s(%d)", s, c[s]))
		}
	}
	if len(parts) == 0 {
		return "stopped"
	}
	return strings.Join(parts, ", ")
}
