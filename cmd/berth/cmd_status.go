package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/berth-dev/berth/reconciler"
	"github.com/spf13/cobra"
)

type statusOptions struct {
	Format string
	Check  bool
}

func newStatusCommand(g *globalOptions) *cobra.Command {
	o := &statusOptions{}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the agent's state and failing units: last reconcile, file errors, repairs, jobs",
		Long: `status prints what the agent last recorded in <state-dir>/agent/status.json:
whether it runs, its last reconcile (trigger, changes, duration, D-Bus
writes), every config file that fails to load (file, line and field, and
whether its last-good state is in use), drift repairs and units waiting in
repair backoff, services stopped with 'berth stop', and its periodic jobs
(such as the auto-update check and its pending updates).

It also lists berth's units that are failed or restarting after a failure,
each with the reason from its journal: the error berth-launcher logged when
the container failed to start (for example "nft not found in $PATH: install
Debian package nftables"), or systemd's own error.

It reads the file, systemd and the journal only; it works while the agent is
busy or stopped. Exit status 1 when the agent has never run here (after
listing failing units), 0 otherwise; with --check, also 3 when a file has
errors, a repair is in backoff, a change was rolled back or a unit is failing.

Changes rolled back (a recreate whose new container failed, so the previous
one was put back, see 'berth apply') are listed with the failed spec and why,
until the files change or an apply succeeds.`,
		Example: `  berth status
  berth status --format json | jq '.file_errors'
  berth status --check || echo "needs attention"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runStatus(cmd.Context(), g, o, cmd.OutOrStdout())
		},
	}
	addFormatFlag(cmd.Flags(), &o.Format, "", "text", "json")
	cmd.Flags().BoolVar(&o.Check, "check", false, "exit 3 when a config file has errors, a repair is in backoff or a unit is failing")
	return cmd
}

func runStatus(ctx context.Context, g *globalOptions, o *statusOptions, out io.Writer) error {
	failing, ferr := failingUnits(ctx)
	st, err := reconciler.ReadStatus(ctx, g.StateDir)
	rbs, rerr := reconciler.LoadRollbacks(ctx, g.StateDir)
	if rerr != nil {
		return rerr
	}
	rolled := rbs.Sorted()
	if o.Format == "json" {
		if jerr := printStatusJSON(out, st, rolled, failing, ferr); jerr != nil {
			return jerr
		}
	} else {
		if st != nil {
			printStatus(out, st)
		}
		printRollbacks(out, rolled)
		printFailing(out, failing, ferr)
	}
	if err != nil {
		return err
	}
	if o.Check && (len(st.FileErrors) > 0 || len(st.Backoff) > 0 || len(failing) > 0 || len(rolled) > 0) {
		return &exitError{code: 3, err: errors.New("config files have errors, repairs are in backoff, changes were rolled back or units are failing")}
	}
	return nil
}

// printStatusJSON prints the agent's status (if any) and the failing units
// as one object.
func printStatusJSON(out io.Writer, st *reconciler.Status, rolled []reconciler.Rollback, failing []failingUnit, ferr error) error {
	v := struct {
		Running bool `json:"running"`
		*reconciler.Status
		RolledBack   []reconciler.Rollback `json:"rolled_back"`
		Failing      []failingUnit         `json:"failing_units"`
		FailingError string                `json:"failing_units_error,omitempty"`
	}{Status: st, RolledBack: rolled, Failing: failing}
	if st != nil {
		v.Running = agentRunning(st.PID)
	}
	if ferr != nil {
		v.FailingError = ferr.Error()
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printStatus(out io.Writer, st *reconciler.Status) {
	running := agentRunning(st.PID)
	now := time.Now()
	ago := func(t time.Time) string { return now.Sub(t).Round(time.Second).String() + " ago" }
	if running {
		fmt.Fprintf(out, "agent:           running (pid %d) since %s, re-list every %s\n", st.PID, st.Started.Format(time.DateTime), time.Duration(st.Interval))
	} else {
		fmt.Fprintf(out, "agent:           NOT running (last pid %d, started %s)\n", st.PID, st.Started.Format(time.DateTime))
	}
	fmt.Fprintf(out, "config dir:      %s\n", st.ConfigDir)
	if l := st.Last; l != nil {
		fmt.Fprintf(out, "last reconcile:  %s (%s), %d services, %d changes, %d D-Bus writes, took %s\n", ago(l.Start), l.Trigger, l.Services, l.Changes, l.Writes, time.Duration(l.Duration).Round(time.Millisecond))
		for _, e := range l.Errors {
			fmt.Fprintf(out, "  error: %s\n", e)
		}
	}
	if l := st.LastChange; l != nil {
		fmt.Fprintf(out, "last change:     %s (%s), %d changes\n", ago(l.Start), l.Trigger, l.Changes)
	}
	fmt.Fprintf(out, "reconciles:      %d\n", st.Reconciles)
	section := func(title string, n int) bool {
		if n == 0 {
			fmt.Fprintf(out, "%s none\n", (title + ":" + strings.Repeat(" ", 16))[:16])
			return false
		}
		fmt.Fprintf(out, "%s:\n", title)
		return true
	}
	if section("file errors", len(st.FileErrors)) {
		for _, fe := range st.FileErrors {
			state := "no last-good state: its running units are kept as they are"
			if fe.LastGood {
				state = "using its last-good state"
			}
			fmt.Fprintf(out, "  %s (since %s; %s)\n    %s\n", fe.Path, fe.Since.Format(time.DateTime), state, fe.Error)
		}
	}
	if section("repairs", len(st.Repairs)) {
		for _, r := range st.Repairs {
			line := fmt.Sprintf("  %s  %s: %s (attempt %d)", r.Time.Format(time.DateTime), r.Unit, r.What, r.Attempt)
			if r.Error != "" {
				line += ": " + r.Error
			}
			fmt.Fprintln(out, line)
		}
	}
	if section("backoff", len(st.Backoff)) {
		for _, b := range st.Backoff {
			when := "now"
			if b.NextAttempt.After(now) {
				when = "in " + b.NextAttempt.Sub(now).Round(time.Second).String()
			}
			fmt.Fprintf(out, "  %s: %d repairs, next attempt %s\n", b.Unit, b.Failures, when)
		}
	}
	if section("stopped by user", len(st.Stopped)) {
		for _, in := range st.Stopped {
			fmt.Fprintf(out, "  %s/%s since %s (berth start %s/%s resumes it)\n", in.Project, in.Service, in.At.Format(time.DateTime), in.Project, in.Service)
		}
	}
	if section("jobs", len(st.Jobs)) {
		for _, j := range st.Jobs {
			line := "  " + j.Name + ":"
			if !j.LastRun.IsZero() {
				line += " last run " + ago(j.LastRun)
				if j.Result != "" {
					line += " (" + j.Result + ")"
				}
			}
			if j.Error != "" {
				line += " FAILED: " + j.Error
			}
			if !j.NextRun.IsZero() {
				line += ", next " + j.NextRun.Format(time.DateTime)
			}
			fmt.Fprintln(out, line)
		}
	}
}

// printRollbacks lists the changes apply or the agent rolled back: the
// previous spec runs while the files ask for the failed one.
func printRollbacks(out io.Writer, rolled []reconciler.Rollback) {
	if len(rolled) == 0 {
		fmt.Fprintln(out, "rolled back:    none")
		return
	}
	fmt.Fprintln(out, "rolled back:")
	for _, rb := range rolled {
		state := "running spec " + rb.Restored + " again"
		if rb.RestoreError != "" {
			state = "the previous spec did not come back either: " + rb.RestoreError
		}
		fmt.Fprintf(out, "  %s/%s (%s) at %s: spec %s failed, %s; `berth apply` retries it\n    %s\n",
			rb.Project, rb.Service, rb.Unit, rb.At.Local().Format(time.DateTime), rb.Failed, state, rb.Reason)
	}
}

// agentRunning tells whether pid is a live berth process.
func agentRunning(pid int) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return err == nil && strings.Contains(string(b), "agent")
}
