package reconciler

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/compose/model"
	"github.com/berth-dev/berth/units"
)

// failingWatch judges every service whose command is "crash" as failed.
type failingWatch struct{ watched []string }

func (w *failingWatch) Run(_ context.Context, unit string, svc *model.Service, _ string, _, _ time.Duration) error {
	w.watched = append(w.watched, svc.Hash())
	if slices.Contains(svc.Command, "crash") {
		return errors.New("unit became failed/failed (result exit-code) after 10ms")
	}
	return nil
}

// TestRecreateRollsBack: a recreate whose new container fails puts the
// previous spec's unit back and records it; plan keeps the change pending
// and says why, the agent holds it, and a fixed file applies and forgets it.
func TestRecreateRollsBack(t *testing.T) {
	ctx := context.Background()
	r, m, _ := passFixture(t)
	w := &failingWatch{}
	r.Watch = w
	v1 := model.Service{Name: "web", Image: "busybox", Command: []string{"serve"}}
	bad := model.Service{Name: "web", Image: "busybox", Command: []string{"crash"}}
	fixed := model.Service{Name: "web", Image: "busybox", Command: []string{"serve", "v2"}}
	unit := units.Name("hello", "web")
	hashOf := func(s model.Service) string { s.Project = "hello"; return s.Hash() }
	running := func() string {
		obs, err := m.Observe(ctx)
		if err != nil || len(obs) != 1 {
			t.Fatalf("observed %+v %v", obs, err)
		}
		if obs[0].ActiveState != "active" {
			t.Fatalf("%s is %s", unit, obs[0].ActiveState)
		}
		return obs[0].Hash
	}
	if _, err := r.Pass(ctx, Options{Load: loadOf(project("hello", v1))}); err != nil {
		t.Fatal(err)
	}

	res, err := r.Pass(ctx, Options{Load: loadOf(project("hello", bad))})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(res.ApplyErr, ErrRolledBack) || !strings.Contains(res.ApplyErr.Error(), "rolled back to the previous spec "+hashOf(v1)) {
		t.Fatalf("apply error %v, want a rollback to %s", res.ApplyErr, hashOf(v1))
	}
	if got := running(); got != hashOf(v1) {
		t.Fatalf("unit runs spec %s after the rollback, want %s", got, hashOf(v1))
	}
	rbs, err := LoadRollbacks(ctx, r.StateDir)
	if err != nil || rbs[unit].Failed != hashOf(bad) || rbs[unit].Restored != hashOf(v1) || !strings.Contains(rbs[unit].Reason, "exit-code") {
		t.Fatalf("rollback record %+v %v", rbs, err)
	}
	// Both specs stay: the previous one runs, the failed one is recorded.
	for _, s := range []model.Service{v1, bad} {
		s.Project = "hello"
		if _, err := r.specs().Load(ctx, "hello", "web", s.Hash()); err != nil {
			t.Errorf("spec %s: %v", s.Hash(), err)
		}
	}

	plan, err := r.Pass(ctx, Options{Load: loadOf(project("hello", bad)), DryRun: true})
	if err != nil || plan.Plan.Changes[0].Action != Recreate || !strings.Contains(plan.Plan.Changes[0].Reason, "last attempt rolled back at") {
		t.Fatalf("plan after the rollback: %+v %v", plan.Plan.Changes, err)
	}
	started := len(m.started)
	held, err := r.Pass(ctx, Options{Load: loadOf(project("hello", bad)), HoldRollbacks: true})
	if err != nil || held.Changes != 0 || len(m.started) != started || !strings.Contains(held.Plan.Changes[0].Reason, "held until the files change") {
		t.Fatalf("agent pass: %+v changes %d, started %v, err %v", held.Plan.Changes, held.Changes, m.started[started:], err)
	}

	// After a reboot (the transient unit is gone) the agent creates the
	// restored spec, not the failed one, and holds the change again.
	if err := m.sd.Stop(ctx, unit); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Pass(ctx, Options{Load: loadOf(project("hello", bad)), HoldRollbacks: true}); err != nil {
		t.Fatal(err)
	}
	if got := running(); got != hashOf(v1) {
		t.Fatalf("after a reboot the agent created spec %s, want the restored %s", got, hashOf(v1))
	}
	started = len(m.started)
	if held, err := r.Pass(ctx, Options{Load: loadOf(project("hello", bad)), HoldRollbacks: true}); err != nil || held.Changes != 0 || len(m.started) != started {
		t.Fatalf("agent pass after the reboot: %+v %v", held.Plan.Changes, err)
	}

	// --no-rollback leaves the failed unit.
	res, err = r.Pass(ctx, Options{Load: loadOf(project("hello", bad)), NoRollback: true})
	if err != nil || errors.Is(res.ApplyErr, ErrRolledBack) || !strings.Contains(res.ApplyErr.Error(), "rollback disabled") {
		t.Fatalf("--no-rollback: %v %v", res.ApplyErr, err)
	}
	if _, err := r.Pass(ctx, Options{Load: loadOf(project("hello", v1))}); err != nil {
		t.Fatal(err)
	}

	res, err = r.Pass(ctx, Options{Load: loadOf(project("hello", fixed)), HoldRollbacks: true})
	if err != nil || res.ApplyErr != nil || running() != hashOf(fixed) {
		t.Fatalf("fixed file: %v %v", res.ApplyErr, err)
	}
	if rbs, _ := LoadRollbacks(ctx, r.StateDir); len(rbs) != 0 {
		t.Errorf("rollback still recorded after a successful recreate: %+v", rbs)
	}
}
