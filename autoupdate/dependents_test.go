package autoupdate

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/berth-dev/berth/compose/model"
)

// requiresWorld adds systemd's Requires= behaviour to world: restarting a
// unit restarts the units that depend on it, and when its start fails they
// are stopped and, being transient, unloaded.
type requiresWorld struct {
	*world
	gone map[string]bool
	// recreateRace: someone else (the agent) puts the unit back just
	// before Recreate, which then fails as the unit exists.
	recreateRace bool
}

func (w *requiresWorld) dependentsOf(unit string) []string {
	name := w.units[unit].svc.Name
	var out []string
	for _, n := range slices.Sorted(func(yield func(string) bool) {
		for k := range w.units {
			if !yield(k) {
				return
			}
		}
	}) {
		if _, ok := w.units[n].svc.DependsOn[name]; ok {
			out = append(out, n)
		}
	}
	return out
}

func (w *requiresWorld) Restart(ctx context.Context, unit string) error {
	if w.gone[unit] {
		return errors.New("Unit " + unit + " not found.")
	}
	err := w.world.Restart(ctx, unit)
	for _, d := range w.dependentsOf(unit) {
		if err != nil {
			w.gone[d] = true
			w.units[d].active = "inactive"
			continue
		}
		_ = w.Restart(ctx, d)
	}
	return err
}

func (w *requiresWorld) State(ctx context.Context, unit string) (UnitState, error) {
	st, err := w.world.State(ctx, unit)
	st.LoadState = "loaded"
	if w.gone[unit] {
		st.LoadState, st.ActiveState, st.MainPID = "not-found", "inactive", 0
	}
	return st, err
}

func (w *requiresWorld) Recreate(ctx context.Context, unit string, svc *model.Service) error {
	w.mu.Lock()
	w.log = append(w.log, "recreate "+unit)
	w.mu.Unlock()
	delete(w.gone, unit)
	err := w.world.Restart(ctx, unit)
	if w.recreateRace && err == nil {
		return errors.New("Unit " + unit + " was already loaded or has a fragment file.")
	}
	return err
}

// A failing new image of db stops web (Requires=) and systemd unloads it;
// after db's rollback web runs again, recreated from its spec.
func TestRollbackBringsBackDependents(t *testing.T) {
	w := newWorld()
	w.run("db", "reg/db:1", "sha256:d1")
	w.run("web", "reg/web:1", "sha256:w1", "db")
	w.units["berth-p-web.service"].svc.AutoUpdate = "" // disabled: only a dependent
	w.remote["reg/db:1"] = "sha256:d2"
	w.remote["reg/web:1"] = "sha256:w1"
	w.act["sha256:d2"] = behaviour{failStart: true}
	rw := &requiresWorld{world: w, gone: map[string]bool{}}
	u := w.updater(t)
	u.Units = rw

	rep, err := u.Run(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := byUnit(rep)
	if got["db"].Status != StatusRolledBack {
		t.Errorf("db: %+v; want rolled-back", got["db"])
	}
	if got["web"].Status != StatusDisabled {
		t.Errorf("web: %+v; want disabled (restored, not failed)", got["web"])
	}
	web := w.units["berth-p-web.service"]
	if rw.gone["berth-p-web.service"] || web.active != "active" || web.digest != "sha256:w1" {
		t.Errorf("web after db's rollback: gone=%v %s on %s; want active on w1", rw.gone["berth-p-web.service"], web.active, web.digest)
	}
	if !slices.Contains(w.log, "recreate berth-p-web.service") {
		t.Errorf("actions %v; want web recreated", w.log)
	}

	// A good db image: web restarts with it and stays up; nothing recreated.
	w.log = nil
	w.remote["reg/db:1"] = "sha256:d3"
	rep, _ = u.Run(context.Background(), Options{})
	if r := byUnit(rep)["db"]; r.Status != StatusUpdated {
		t.Errorf("db to d3: %+v", r)
	}
	if web.active != "active" || slices.Contains(w.log, "recreate berth-p-web.service") {
		t.Errorf("web after db's update: %s, actions %v", web.active, w.log)
	}
}

// When the agent put the unloaded dependent back first, recreating it
// fails, but it runs: the rollback is not a failure.
func TestRecreateRacingTheAgent(t *testing.T) {
	w := newWorld()
	w.run("db", "reg/db:1", "sha256:d1")
	w.run("web", "reg/web:1", "sha256:w1", "db")
	w.units["berth-p-web.service"].svc.AutoUpdate = ""
	w.remote["reg/db:1"] = "sha256:d2"
	w.remote["reg/web:1"] = "sha256:w1"
	w.act["sha256:d2"] = behaviour{failStart: true}
	rw := &requiresWorld{world: w, gone: map[string]bool{}, recreateRace: true}
	u := w.updater(t)
	u.Units = rw
	rep, err := u.Run(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := byUnit(rep)
	if got["db"].Status != StatusRolledBack || got["web"].Status != StatusDisabled {
		t.Errorf("db %+v, web %+v; want rolled-back and disabled (restored)", got["db"], got["web"])
	}
	if web := w.units["berth-p-web.service"]; web.active != "active" || web.digest != "sha256:w1" {
		t.Errorf("web: %s on %s; want active on w1", web.active, web.digest)
	}
}

// A dependent that was stopped before the update is left stopped.
func TestDependentStoppedBeforeStaysStopped(t *testing.T) {
	w := newWorld()
	w.run("db", "reg/db:1", "sha256:d1")
	w.run("web", "reg/web:1", "sha256:w1", "db")
	w.units["berth-p-web.service"].svc.AutoUpdate = ""
	w.units["berth-p-web.service"].active = "inactive"
	w.remote["reg/db:1"] = "sha256:d2"
	w.act["sha256:d2"] = behaviour{failStart: true}
	rw := &requiresWorld{world: w, gone: map[string]bool{}}
	u := w.updater(t)
	u.Units = rw
	if _, err := u.Run(context.Background(), Options{}); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(w.log, "recreate berth-p-web.service") {
		t.Errorf("actions %v: a stopped dependent was started", w.log)
	}
}

func TestDependentsTransitiveInOrder(t *testing.T) {
	svc := func(name string, deps ...string) *model.Service {
		s := &model.Service{Project: "p", Name: name, DependsOn: map[string]model.Dependency{}}
		for _, d := range deps {
			s.DependsOn[d] = model.Dependency{}
		}
		return s
	}
	results := []Result{
		{Unit: "front", Service: svc("front", "web")},
		{Unit: "web", Service: svc("web", "db")},
		{Unit: "db", Service: svc("db")},
		{Unit: "other", Service: svc("other")},
	}
	got := dependents(results, []int{2})
	if !slices.Equal(got, []int{1, 0}) {
		t.Errorf("dependents of db: %v; want [1 0] (web, then front)", got)
	}
}
