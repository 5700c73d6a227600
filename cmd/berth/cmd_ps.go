package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/berth-dev/berth/runtime"
	"github.com/berth-dev/berth/systemd"
	"github.com/berth-dev/berth/units"
	"github.com/spf13/cobra"
)

type psOptions struct {
	Format string
}

// psRow is one line of `berth ps`; its JSON form is the --format json output.
type psRow struct {
	Project  string    `json:"project"`
	Service  string    `json:"service"`
	Unit     string    `json:"unit"`
	State    string    `json:"state"`
	SubState string    `json:"sub_state"`
	MainPID  int       `json:"main_pid"`
	Image    string    `json:"image"`
	Digest   string    `json:"digest,omitempty"`
	Since    time.Time `json:"since,omitzero"`
	Uptime   string    `json:"uptime,omitempty"`
	Restarts uint32    `json:"restarts"`
	// Health is the health check's status (starting, healthy, unhealthy),
	// empty without a check; HealthDetail has the record's details.
	Health       string                `json:"health,omitempty"`
	HealthDetail *runtime.HealthRecord `json:"health_detail,omitempty"`
}

func newPsCommand(g *globalOptions) *cobra.Command {
	o := &psOptions{}
	cmd := &cobra.Command{
		Use:   "ps",
		Short: "List berth's services and their units",
		Long: `ps lists every berth unit systemd has: project, service, unit, state,
health, main PID (the container's PID 1), image and the digest it runs,
uptime and restarts. An accepting service (x-berth.sockets with
accept: true) is its socket unit, listed with each connection's running
instance. It reads systemd and the run dir only; the config dir
is not loaded (berth plan compares the two).`,
		Example: `  berth ps
  berth ps --format json | jq '.[].main_pid'`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPs(cmd.Context(), g, o, cmd.OutOrStdout())
		},
	}
	addFormatFlag(cmd.Flags(), &o.Format, "", "table", "json")
	return cmd
}

func runPs(ctx context.Context, g *globalOptions, o *psOptions, out io.Writer) error {
	a, err := newApp(ctx, g)
	if err != nil {
		return err
	}
	defer a.Close()
	// Sockets too: an accepting service has no service unit of its own.
	us, err := a.sd.List(ctx, systemd.ListOptions{Patterns: []string{units.Prefix + "*.service", units.Prefix + "*.socket"}, Props: systemd.AllProps})
	if err != nil {
		return err
	}
	rows := []psRow{}
	now := time.Now()
	for _, u := range us {
		r := psRow{
			Project: u.Environment[units.EnvProject], Service: u.Environment[units.EnvService],
			Unit: u.Name, State: u.ActiveState, SubState: u.SubState, MainPID: u.MainPID,
			Image: u.Environment[units.EnvImage], Restarts: u.Restarts,
		}
		if r.Project == "" {
			continue // not made by berth, or the socket of a socket-activated service unit
		}
		id := r.Project + "-" + r.Service
		if st, err := runtime.ReadState(g.RunDir, id); err == nil {
			r.Digest = st.Digest
		}
		if u.ActiveState == "active" || u.ActiveState == "activating" {
			if h, err := runtime.ReadHealth(g.RunDir, id); err == nil && h != nil {
				r.HealthDetail = h
				r.Health = healthSummary(h)
			}
		}
		if u.ActiveState == "active" && !u.Since.IsZero() {
			r.Since = u.Since
			r.Uptime = now.Sub(u.Since).Round(time.Second).String()
		}
		rows = append(rows, r)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Unit < rows[j].Unit })
	if o.Format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROJECT\tSERVICE\tUNIT\tSTATE\tHEALTH\tPID\tIMAGE\tDIGEST\tUPTIME\tRESTARTS")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s/%s\t%s\t%d\t%s\t%s\t%s\t%d\n", r.Project, r.Service, r.Unit, r.State, r.SubState,
			dash(r.Health), r.MainPID, r.Image, shortDigest(r.Digest), dash(r.Uptime), r.Restarts)
	}
	return tw.Flush()
}

// healthSummary is the health check's status, or the liveness probe's when
// there is no health check; an unhealthy liveness probe always shows.
func healthSummary(h *runtime.HealthRecord) string {
	switch {
	case h.Liveness != nil && h.Liveness.Status == runtime.HealthUnhealthy:
		return "unhealthy (liveness)"
	case h.Health != nil:
		return h.Health.Status
	case h.Liveness != nil:
		return h.Liveness.Status
	}
	return ""
}

func shortDigest(d string) string {
	if len(d) > 7+12 {
		return d[:7+12]
	}
	return dash(d)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
