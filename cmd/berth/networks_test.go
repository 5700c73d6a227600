package main

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/berth-dev/berth/compose/model"

	"github.com/berth-dev/berth/reconciler"
)

// TestAgentNetGCRunsOnlyWhenNeeded: the agent's network GC runs at the
// first reconcile, after changes, when the declared networks change and
// after netGCInterval, and is skipped by no-op reconciles.
func TestAgentNetGCRunsOnlyWhenNeeded(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	runs := 0
	g := &agentNetGC{
		gc:  func(context.Context, []model.Entry) error { runs++; return nil },
		log: slog.New(slog.DiscardHandler),
		now: func() time.Time { return now },
	}
	proj := func(nets ...string) []model.Entry {
		p := &model.Project{Name: "app", Networks: map[string]model.Network{}}
		for _, n := range nets {
			p.Networks[n] = model.Network{}
		}
		return []model.Entry{{Name: "app", Project: p}}
	}
	steps := []struct {
		what    string
		entries []model.Entry
		rec     reconciler.ReconcileRecord
		advance time.Duration
		want    int
	}{
		{"first reconcile", proj("default"), reconciler.ReconcileRecord{Reloaded: true}, 0, 1},
		{"no-op relist", proj("default"), reconciler.ReconcileRecord{}, time.Second, 1},
		{"reloaded, same networks", proj("default"), reconciler.ReconcileRecord{Reloaded: true}, time.Second, 1},
		{"units changed", proj("default"), reconciler.ReconcileRecord{Changes: 1}, time.Second, 2},
		{"a network dropped", proj(), reconciler.ReconcileRecord{Reloaded: true}, time.Second, 3},
		{"no-op again", proj(), reconciler.ReconcileRecord{}, time.Second, 3},
		{"interval passed", proj(), reconciler.ReconcileRecord{}, netGCInterval, 4},
	}
	for _, s := range steps {
		now = now.Add(s.advance)
		if err := g.run(context.Background(), s.entries, &s.rec); err != nil {
			t.Fatal(err)
		}
		if runs != s.want {
			t.Fatalf("%s: GC ran %d times, want %d", s.what, runs, s.want)
		}
	}
}

// BenchmarkAgentNetGCNoop is the cost the GC gate adds to a no-op
// reconcile of 200 services.
func BenchmarkAgentNetGCNoop(b *testing.B) {
	p := &model.Project{Name: "app", Networks: map[string]model.Network{"default": {}}}
	for i := range 200 {
		p.Services = append(p.Services, model.Service{Name: "s" + string(rune('a'+i%26)) + string(rune('a'+i/26)), Project: "app",
			Networks: map[string]model.NetworkAttachment{"app_default": {IPv4: "10.89.0.1"}}})
	}
	entries := []model.Entry{{Name: "app", Project: p}}
	g := &agentNetGC{gc: func(context.Context, []model.Entry) error { return nil }, log: slog.New(slog.DiscardHandler), now: time.Now}
	_ = g.run(context.Background(), entries, &reconciler.ReconcileRecord{Reloaded: true})
	b.Run("noop", func(b *testing.B) {
		for b.Loop() {
			_ = g.run(context.Background(), entries, &reconciler.ReconcileRecord{})
		}
	})
	b.Run("reloaded", func(b *testing.B) {
		for b.Loop() {
			_ = g.run(context.Background(), entries, &reconciler.ReconcileRecord{Reloaded: true})
		}
	})
}
