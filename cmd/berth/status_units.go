package main

import (
	"context"
	"fmt"
	"io"

	"github.com/berth-dev/berth/systemd"
	"github.com/berth-dev/berth/systemd/journal"
	"github.com/berth-dev/berth/units"
)

// failingUnit is a berth unit that is failed or restarting after a failure,
// and why, as `berth status` shows it.
type failingUnit struct {
	Unit     string   `json:"unit"`
	Project  string   `json:"project,omitempty"`
	Service  string   `json:"service,omitempty"`
	State    string   `json:"state"`    // ActiveState/SubState
	Result   string   `json:"result"`   // systemd's Result= (exit-code, timeout …)
	Restarts uint32   `json:"restarts"` // NRestarts
	Reason   []string `json:"reason"`   // the failed run's own error lines
	Error    string   `json:"error,omitempty"`
}

// failingUnits asks systemd for berth's failing units and the journal for
// each one's reason. It works without the agent.
func failingUnits(ctx context.Context) ([]failingUnit, error) {
	c, err := systemd.Connect(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	// Only units in these states can be failing; Result and NRestarts tell.
	// A failed socket (an accepting service's) is a failing service too.
	us, err := c.List(ctx, systemd.ListOptions{Patterns: []string{units.Prefix + "*.service", units.Prefix + "*.socket"},
		States: []string{"failed", "activating", "deactivating"}, Props: systemd.AllProps})
	if err != nil {
		return nil, err
	}
	out := []failingUnit{}
	for _, u := range us {
		if !u.Failing() {
			continue
		}
		f := failingUnit{Unit: u.Name, Project: u.Environment[units.EnvProject], Service: u.Environment[units.EnvService],
			State: u.ActiveState + "/" + u.SubState, Result: u.Result, Restarts: u.Restarts}
		if f.Reason, err = (journal.Reader{}).UnitReason(ctx, u.Name); err != nil {
			f.Error = err.Error()
		}
		out = append(out, f)
	}
	return out, nil
}

// printFailing is the text form of failingUnits' result.
func printFailing(out io.Writer, fs []failingUnit, err error) {
	if err != nil {
		fmt.Fprintf(out, "failing units:  unknown (%v)\n", err)
		return
	}
	if len(fs) == 0 {
		fmt.Fprintln(out, "failing units:  none")
		return
	}
	fmt.Fprintln(out, "failing units:")
	for _, f := range fs {
		name := f.Unit
		if f.Project != "" {
			name = f.Project + "/" + f.Service + " (" + f.Unit + ")"
		}
		fmt.Fprintf(out, "  %s: %s, result %s, %d restarts\n", name, f.State, f.Result, f.Restarts)
		for _, l := range f.Reason {
			fmt.Fprintf(out, "    %s\n", l)
		}
		if len(f.Reason) == 0 {
			why := "no error in its journal"
			if f.Error != "" {
				why = "reading its journal: " + f.Error
			}
			fmt.Fprintf(out, "    (%s; see journalctl -u %s)\n", why, f.Unit)
		}
	}
}
