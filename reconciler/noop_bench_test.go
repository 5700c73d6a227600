package reconciler

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/compose"
	"github.com/berth-dev/berth/units"
)

// staticManager reports a fixed set of units and fails on any write.
type staticManager struct{ obs []Observed }

func (m *staticManager) Observe(context.Context) ([]Observed, error) {
	return append([]Observed(nil), m.obs...), nil
}
func (m *staticManager) Start(_ context.Context, u *units.Unit) error {
	return fmt.Errorf("unexpected start of %s", u.Name)
}
func (m *staticManager) Stop(_ context.Context, unit string) error {
	return fmt.Errorf("unexpected stop of %s", unit)
}

// noopAgent is an agent over a config dir of projects×per services whose
// units all run as declared, after its first reconcile.
func noopAgent(tb testing.TB, projects, per int) *Agent {
	tb.Helper()
	dir, state := tb.TempDir(), tb.TempDir()
	for p := range projects {
		var s strings.Builder
		s.WriteString("services:\n")
		for i := range per {
			fmt.Fprintf(&s, "  s%d:\n    image: busybox\n    command: [sleep, \"3600\"]\n    mem_limit: 64m\n", i)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("p%02d.yaml", p)), []byte(s.String()), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	entries, err := compose.LoadDir(context.Background(), dir)
	if err != nil {
		tb.Fatal(err)
	}
	m := &staticManager{}
	for _, e := range entries {
		if e.Err != nil {
			tb.Fatal(e.Err)
		}
		for i := range e.Project.Services {
			s := &e.Project.Services[i]
			m.obs = append(m.obs, Observed{Unit: unitName(s), Project: s.Project, Service: s.Name, Hash: s.Hash(),
				ActiveState: "active", Limits: &Limits{MemoryMax: 64 << 20, TasksMax: Infinity, CPUQuotaPerSecUSec: Infinity}})
		}
	}
	a := &Agent{Rec: &Reconciler{Manager: m, StateDir: state, Log: quietLog()},
		Source: &Source{Dir: dir, StateDir: state, Log: quietLog()}, Log: quietLog()}
	if rec := a.ReconcileOnce(context.Background(), true); len(rec.Errors) > 0 || rec.Changes > 0 {
		tb.Fatalf("first pass: %d changes, errors %v", rec.Changes, rec.Errors)
	}
	return a
}

// BenchmarkNoopReconcile is the agent's re-list pass over 200 unchanged
// services without the D-Bus reads: what berth itself spends per pass.
func BenchmarkNoopReconcile(b *testing.B) {
	a := noopAgent(b, 20, 10)
	b.ResetTimer()
	for range b.N {
		if rec := a.ReconcileOnce(context.Background(), false); rec.Changes > 0 || len(rec.Errors) > 0 || rec.Services != 200 {
			b.Fatalf("no-op pass: %d services, %d changes, errors %v", rec.Services, rec.Changes, rec.Errors)
		}
	}
}
