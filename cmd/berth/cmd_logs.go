package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/reconciler"
	"github.com/spf13/cobra"
)

type logsOptions struct {
	Follow bool
	Since  string
	Lines  int
}

func newLogsCommand(g *globalOptions) *cobra.Command {
	o := &logsOptions{}
	cmd := &cobra.Command{
		Use:   "logs [-f] [--since TIME] SERVICE|PROJECT/SERVICE|PROJECT...",
		Short: "Show services' output from the journal",
		Long: `logs reads the containers' stdout and stderr from journald (through
journalctl). With one service it prints the lines as they are; with several
(a project, or several arguments) each line is prefixed with its service
name, as docker compose logs does.`,
		Example: `  berth logs web
  berth logs -f hello                  # every service of project hello, followed
  berth logs --since "10 min ago" hello/web
  berth logs -n 20 web db`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeServices(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLogs(cmd.Context(), g, o, args, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.Follow, "follow", "f", false, "keep printing new lines")
	f.StringVar(&o.Since, "since", "", `show lines since this time (journalctl syntax: "2026-01-02 10:00", "1h ago", "today")`)
	f.IntVarP(&o.Lines, "lines", "n", -1, "show only the last N lines (default: all, or 10 with -f)")
	return cmd
}

func runLogs(ctx context.Context, g *globalOptions, o *logsOptions, args []string, out io.Writer) error {
	a, err := newApp(ctx, g)
	if err != nil {
		return err
	}
	targets, err := a.resolveTargets(ctx, args)
	a.Close()
	if err != nil {
		return err
	}
	jargs := []string{"--no-pager", "--quiet"}
	for _, t := range targets {
		jargs = append(jargs, "-u", t.Unit)
	}
	if o.Follow {
		jargs = append(jargs, "-f")
	}
	if o.Since != "" {
		jargs = append(jargs, "--since", o.Since)
	}
	if o.Lines >= 0 {
		jargs = append(jargs, "-n", strconv.Itoa(o.Lines))
	}
	if len(targets) == 1 {
		jargs = append(jargs, "-o", "cat")
		cmd := exec.CommandContext(ctx, "journalctl", jargs...)
		cmd.Stdout, cmd.Stderr = out, os.Stderr
		return journalErr(cmd.Run(), ctx)
	}
	// Several units: JSON so that each line names its service reliably.
	width := 0
	names := map[string]string{}
	for _, t := range targets {
		n := t.Service
		if len(targets) > 1 && !sameProject(targets) {
			n = t.Project + "/" + t.Service
		}
		names[t.Unit] = n
		width = max(width, len(n))
	}
	cmd := exec.CommandContext(ctx, "journalctl", append(jargs, "-o", "json", "--output-fields", "_SYSTEMD_UNIT,UNIT,MESSAGE,SYSLOG_IDENTIFIER")...)
	cmd.Stderr = os.Stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("running journalctl: %w", err)
	}
	sc := bufio.NewScanner(pipe)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var rec map[string]any
		if json.Unmarshal(sc.Bytes(), &rec) != nil {
			continue
		}
		unit, _ := rec["_SYSTEMD_UNIT"].(string)
		if unit == "" {
			unit, _ = rec["UNIT"].(string) // systemd's own lines about the unit
		}
		name := names[unit]
		if name == "" {
			name, _ = rec["SYSLOG_IDENTIFIER"].(string)
		}
		fmt.Fprintf(out, "%-*s | %s\n", width, name, journalMessage(rec["MESSAGE"]))
	}
	return journalErr(cmd.Wait(), ctx)
}

// journalMessage decodes MESSAGE, which journalctl gives as an array of
// bytes when it is not valid UTF-8.
func journalMessage(v any) string {
	switch m := v.(type) {
	case string:
		return m
	case []any:
		var b strings.Builder
		for _, x := range m {
			if f, ok := x.(float64); ok {
				b.WriteByte(byte(f))
			}
		}
		return b.String()
	}
	return ""
}

func sameProject(ts []reconciler.Target) bool {
	for _, t := range ts {
		if t.Project != ts[0].Project {
			return false
		}
	}
	return true
}

// journalErr hides the error of a journalctl killed because the user
// pressed ^C while following.
func journalErr(err error, ctx context.Context) error {
	if err != nil && ctx.Err() != nil {
		return nil
	}
	if err != nil {
		return fmt.Errorf("journalctl: %w", err)
	}
	return nil
}
