package main

import (
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
		Short: "Show the agent's state: last reconcile, file errors, repairs, jobs",
		Long: `status prints what the agent last recorded in <state-dir>/agent/status.json:
whether it runs, its last reconcile (trigger, changes, duration, D-Bus
writes), every config file that fails to load (file, line and field, and
whether its last-good state is in use), drift repairs and units waiting in
repair backoff, services stopped with 'berth stop', and its periodic jobs
(such as the auto-update check and its pending updates).

It reads the file only; it works while the agent is busy or stopped. Exit
status 1 when the agent has never run here, 0 otherwise; with
--check, also 3 when a file has errors or a repair is in backoff.`,
		Example: `  berth status
  berth status --format json | jq '.file_errors'
  berth status --check || echo "needs attention"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runStatus(g, o, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&o.Format, "format", "text", "output format: text or json")
	cmd.Flags().BoolVar(&o.Check, "check", false, "exit 3 when a config file has errors or a repair is in backoff")
	return cmd
}

func runStatus(g *globalOptions, o *statusOptions, out io.Writer) error {
	if err := printStatus(g, o, out); err != nil {
		return err
	}
	st, _ := reconciler.ReadStatus(g.StateDir)
	if o.Check && st != nil && (len(st.FileErrors) > 0 || len(st.Backoff) > 0) {
		return &exitError{code: 3, err: errors.New("config files have errors or repairs are in backoff")}
	}
	return nil
}

func printStatus(g *globalOptions, o *statusOptions, out io.Writer) error {
	if o.Format != "text" && o.Format != "json" {
		return fmt.Errorf("unknown format %q (valid: text, json)", o.Format)
	}
	st, err := reconciler.ReadStatus(g.StateDir)
	if err != nil {
		return err
	}
	running := agentRunning(st.PID)
	if o.Format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Running bool `json:"running"`
			*reconciler.Status
		}{running, st})
	}
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
	return nil
}

// agentRunning tells whether pid is a live berth process.
func agentRunning(pid int) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return err == nil && strings.Contains(string(b), "agent")
}
