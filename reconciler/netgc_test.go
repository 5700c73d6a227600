package reconciler

import (
	"testing"
	"time"

	"github.com/berth-dev/berth/compose/model"
)

// TestGCGateRunsOnlyWhenNeeded: the agent's network GC runs at the first
// reconcile, after changes, when the declared networks change and after
// netGCInterval, and is skipped by no-op reconciles.
func TestGCGateRunsOnlyWhenNeeded(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	runs := 0
	g := &GCGate{Now: func() time.Time { return now }}
	proj := func(nets ...string) []model.Entry {
		p := &model.Project{Name: "app", Networks: map[string]model.Network{}}
		for _, n := range nets {
			p.Networks[n] = model.Network{}
		}
		return []model.Entry{{Name: "app", Project: p}}
	}
	pass := func(entries []model.Entry, reloaded bool, changes int) *Result {
		return &Result{Loaded: Loaded{Entries: entries, Reloaded: reloaded}, Changes: changes}
	}
	steps := []struct {
		what    string
		res     *Result
		advance time.Duration
		want    int
	}{
		{"first reconcile", pass(proj("default"), true, 0), 0, 1},
		{"no-op relist", pass(proj("default"), false, 0), time.Second, 1},
		{"reloaded, same networks", pass(proj("default"), true, 0), time.Second, 1},
		{"units changed", pass(proj("default"), false, 1), time.Second, 2},
		{"a network dropped", pass(proj(), true, 0), time.Second, 3},
		{"no-op again", pass(proj(), false, 0), time.Second, 3},
		{"interval passed", pass(proj(), false, 0), netGCInterval, 4},
	}
	for _, s := range steps {
		now = now.Add(s.advance)
		if g.due(s.res) {
			runs++
			g.done(s.res)
		}
		if runs != s.want {
			t.Fatalf("%s: GC ran %d times, want %d", s.what, runs, s.want)
		}
	}
}

// BenchmarkGCGateNoop is the cost the GC gate adds to a no-op reconcile
// of 200 services.
func BenchmarkGCGateNoop(b *testing.B) {
	p := &model.Project{Name: "app", Networks: map[string]model.Network{"default": {}}}
	for i := range 200 {
		p.Services = append(p.Services, model.Service{Name: "s" + string(rune('a'+i%26)) + string(rune('a'+i/26)), Project: "app",
			Networks: map[string]model.NetworkAttachment{"app_default": {IPv4: "10.89.0.1"}}})
	}
	entries := []model.Entry{{Name: "app", Project: p}}
	g := &GCGate{}
	first := &Result{Loaded: Loaded{Entries: entries, Reloaded: true}}
	g.due(first)
	g.done(first)
	b.Run("noop", func(b *testing.B) {
		for b.Loop() {
			g.due(&Result{Loaded: Loaded{Entries: entries}})
		}
	})
	b.Run("reloaded", func(b *testing.B) {
		for b.Loop() {
			g.due(&Result{Loaded: Loaded{Entries: entries, Reloaded: true}})
		}
	})
}
