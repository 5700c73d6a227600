package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/reconciler"
	"github.com/berth-dev/berth/units"
	"github.com/spf13/cobra"
)

type eventsOptions struct {
	Format string
}

// eventLine is one line of `berth events`; its JSON form is --format json.
type eventLine struct {
	Time    time.Time `json:"time"`
	Source  string    `json:"source"` // systemd or berth
	Kind    string    `json:"kind"`
	Unit    string    `json:"unit,omitempty"`
	Message string    `json:"message"`
}

func newEventsCommand(g *globalOptions) *cobra.Command {
	o := &eventsOptions{}
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Stream berth units' state changes and the agent's actions",
		Long: `events prints, as they happen, every state change of a berth-* unit (from
systemd's D-Bus signals: activating, active, deactivating, failed …) and
every action of the agent (reconciles, creates, recreates, removals, drift
repairs, job runs, from <state-dir>/agent/actions.jsonl), until interrupted.`,
		Example: `  berth events
  berth events --format json | jq -c 'select(.kind == "repair")'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runEvents(cmd.Context(), g, o, cmd.OutOrStdout())
		},
	}
	addFormatFlag(cmd.Flags(), &o.Format, " (one object per line)", "text", "json")
	return cmd
}

func runEvents(ctx context.Context, g *globalOptions, o *eventsOptions, out io.Writer) error {
	a, err := newApp(ctx, g)
	if err != nil {
		return err
	}
	defer a.Close()
	evs, err := a.sd.Subscribe(ctx, units.Prefix)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	print := func(l eventLine) {
		mu.Lock()
		defer mu.Unlock()
		if o.Format == "json" {
			b, _ := json.Marshal(l)
			fmt.Fprintln(out, string(b))
			return
		}
		fmt.Fprintf(out, "%s  %-7s %-9s %s\n", l.Time.Format("15:04:05.000"), l.Source, l.Kind, l.Message)
	}
	go tailActions(ctx, reconciler.ActionLogPath(g.StateDir), func(ev reconciler.ActionEvent) {
		print(eventLine{Time: ev.Time, Source: "berth", Kind: ev.Kind, Unit: ev.Unit, Message: ev.Message})
	})
	for ev := range evs {
		msg := ev.Unit + " " + ev.ActiveState
		if ev.SubState != "" {
			msg += "/" + ev.SubState
		}
		print(eventLine{Time: ev.Time, Source: "systemd", Kind: "unit", Unit: ev.Unit, Message: strings.TrimSpace(msg)})
	}
	return nil
}

// tailActions follows the agent's action log from its current end,
// surviving its truncation and creation.
func tailActions(ctx context.Context, path string, emit func(reconciler.ActionEvent)) {
	var off int64 = -1
	var partial []byte
	for {
		if f, err := os.Open(path); err == nil {
			fi, _ := f.Stat()
			switch {
			case off < 0: // start at the end: only new actions
				off = fi.Size()
			case fi.Size() < off: // cut by the agent: read it anew
				off, partial = 0, nil
			}
			if _, err := f.Seek(off, io.SeekStart); err == nil {
				r := bufio.NewReader(f)
				for {
					line, err := r.ReadBytes('\n')
					off += int64(len(line))
					if err != nil {
						partial = append(partial, line...)
						break
					}
					line = append(partial, line...)
					partial = nil
					var ev reconciler.ActionEvent
					if json.Unmarshal(line, &ev) == nil {
						emit(ev)
					}
				}
			}
			f.Close()
		} else if off < 0 {
			off = 0
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}
