package reconciler

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/berth-dev/berth/compose/model"
	"github.com/berth-dev/berth/runtime/paths"

	"github.com/berth-dev/berth/systemd"
	"github.com/berth-dev/berth/systemd/systemdtest"
	"github.com/berth-dev/berth/units"
	sd "github.com/coreos/go-systemd/v22/dbus"
)

func project(name string, svcs ...model.Service) model.Entry {
	for i := range svcs {
		svcs[i].Project = name
	}
	return model.Entry{Name: name, Project: &model.Project{Name: name, Services: svcs}}
}

func observed(s model.Service, state string) Observed {
	return Observed{Unit: units.Name(s.Project, s.Name), Project: s.Project, Service: s.Name, Hash: s.Hash(), ActiveState: state}
}

func actions(p *Plan) map[string]Action {
	m := map[string]Action{}
	for _, c := range p.Changes {
		m[c.Project+"/"+c.Service] = c.Action
	}
	return m
}

func TestMakePlan(t *testing.T) {
	web := model.Service{Project: "hello", Name: "web", Image: "busybox"}
	ticker := model.Service{Project: "hello", Name: "ticker", Image: "busybox", Command: []string{"a"}}
	edited := ticker
	edited.Command = []string{"b"}
	gone := model.Service{Project: "old", Name: "x", Image: "busybox"}
	dropped := model.Service{Project: "hello", Name: "dropped", Image: "busybox"}

	p := MakePlan(
		[]model.Entry{project("hello", web, edited), project("new", model.Service{Name: "db", Image: "busybox"})},
		[]Observed{observed(web, "active"), observed(ticker, "active"), observed(gone, "active"), observed(dropped, "active")},
		nil)
	want := map[string]Action{"hello/web": Keep, "hello/ticker": Recreate, "new/db": Create, "old/x": Remove, "hello/dropped": Remove}
	got := actions(p)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("unexpected changes: %v", got)
	}
}

// TestPlanKeepsUnitFiles: units that `generate systemd` wrote to disk run
// without the agent; no project in the config dir declares them, yet
// neither apply nor the agent may remove them (found by the VM suite).
func TestPlanKeepsUnitFiles(t *testing.T) {
	gen := model.Service{Project: "gen", Name: "pinger", Image: "busybox"}
	o := observed(gen, "active")
	o.UnitFile = true
	if p := MakePlan(nil, []Observed{o}, nil); p.HasChanges() {
		t.Fatalf("a generated unit file's unit is in the plan: %+v", p.Changes)
	}
}

func TestPlanNoChanges(t *testing.T) {
	web := model.Service{Project: "hello", Name: "web", Image: "busybox"}
	p := MakePlan([]model.Entry{project("hello", web)}, []Observed{observed(web, "active")}, nil)
	if p.HasChanges() {
		t.Fatalf("want no changes, got %+v", p.Changes)
	}
}

func TestBrokenFileKeepsRunningUnits(t *testing.T) {
	web := model.Service{Project: "hello", Name: "web", Image: "busybox"}
	p := MakePlan([]model.Entry{{Name: "hello", Err: errors.New("hello/compose.yaml: line 3: bad")}},
		[]Observed{observed(web, "active")}, nil)
	if p.HasChanges() || len(p.Errors) != 1 {
		t.Fatalf("broken file must keep units and report: changes %+v errors %v", p.Changes, p.Errors)
	}
}

func TestPlanOnlySelectedProjects(t *testing.T) {
	a := model.Service{Project: "a", Name: "s", Image: "busybox"}
	other := model.Service{Project: "b", Name: "s", Image: "busybox"}
	p := MakePlan([]model.Entry{project("a", a)}, []Observed{observed(other, "active")}, []string{"a"})
	got := actions(p)
	if got["a/s"] != Create || got["b/s"] != "" {
		t.Fatalf("apply a must not touch b: %v", got)
	}
}

func TestFailedUnitIsRecreated(t *testing.T) {
	web := model.Service{Project: "hello", Name: "web", Image: "busybox"}
	p := MakePlan([]model.Entry{project("hello", web)}, []Observed{observed(web, "failed")}, nil)
	if actions(p)["hello/web"] != Recreate {
		t.Fatalf("failed unit: %v", actions(p))
	}
}

// fakeManager is the reconciler's Manager over systemdtest.Fake, the
// in-memory systemd held to the conformance suite the real client passes
// against systemd (hack/e2e TestManagerConformance): what was started is
// observed with its environment, what was stopped is gone. It records
// calls; with arrived set, each Stop reports its arrival and blocks until
// released, so a test can prove removals run concurrently. Observe
// also reports obs, units a test says exist.
type fakeManager struct {
	sd      systemdtest.Fake
	mu      sync.Mutex
	obs     []Observed
	stopped []string
	started []string
	arrived chan struct{}
	release chan struct{}
}

func (f *fakeManager) Observe(ctx context.Context) ([]Observed, error) {
	us, err := f.sd.List(ctx, systemd.ListOptions{Patterns: []string{units.Prefix + "*.service"},
		Props: []string{systemd.PropEnvironment, systemd.PropMemoryMax, systemd.PropTasksMax, systemd.PropCPUQuotaPerSecUSec}})
	if err != nil {
		return nil, err
	}
	var out []Observed
	for _, u := range us {
		out = append(out, Observed{Unit: u.Name, Project: u.Environment[units.EnvProject], Service: u.Environment[units.EnvService],
			Hash: u.Environment[units.EnvHash], ActiveState: u.ActiveState, UnitFile: u.Environment[units.EnvUnitFile] == "1",
			Limits: &Limits{MemoryMax: u.Limits.MemoryMax, TasksMax: u.Limits.TasksMax, CPUQuotaPerSecUSec: u.Limits.CPUQuotaPerSecUSec}})
	}
	return append(out, f.obs...), nil
}

func (f *fakeManager) Start(ctx context.Context, u *units.Unit) error {
	f.mu.Lock()
	f.started = append(f.started, u.Name)
	f.mu.Unlock()
	props, err := u.Properties()
	if err != nil {
		return err
	}
	var aux []sd.PropertyCollection
	for _, a := range u.Aux {
		ap, err := a.Properties()
		if err != nil {
			return err
		}
		aux = append(aux, sd.PropertyCollection{Name: a.Name, Properties: ap})
	}
	return f.sd.StartTransient(ctx, u.Name, props, aux...)
}

func (f *fakeManager) Stop(ctx context.Context, unit string) error {
	f.mu.Lock()
	f.stopped = append(f.stopped, unit)
	f.mu.Unlock()
	if f.arrived != nil {
		f.arrived <- struct{}{}
		<-f.release
	}
	return f.sd.Stop(ctx, unit)
}

func TestApplyRemovesConcurrentlyThenCreates(t *testing.T) {
	f := &fakeManager{arrived: make(chan struct{}), release: make(chan struct{})}
	r := &Reconciler{Manager: f, StateDir: t.TempDir(), Units: units.Config{Binary: "/bin/berth"}}
	p := &Plan{Changes: []Change{
		{Action: Remove, Project: "a", Service: "x", Unit: "berth-a-x.service"},
		{Action: Create, Project: "a", Service: "y", Unit: "berth-a-y.service", Desired: &model.Service{Project: "a", Name: "y", Image: "busybox"}},
		{Action: Remove, Project: "a", Service: "z", Unit: "berth-a-z.service"},
	}}
	done := make(chan error, 1)
	go func() { done <- r.Apply(context.Background(), p) }()
	// Both stops must be in flight at once before either returns.
	<-f.arrived
	<-f.arrived
	close(f.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(f.stopped) != 2 || len(f.started) != 1 || f.started[0] != "berth-a-y.service" {
		t.Fatalf("stopped %v started %v", f.stopped, f.started)
	}
	// What was created runs, carrying its spec hash for the next plan.
	obs, err := f.Observe(context.Background())
	y := p.Changes[1].Desired
	if err != nil || len(obs) != 1 || obs[0].Unit != "berth-a-y.service" || obs[0].Project != "a" || obs[0].Service != "y" ||
		obs[0].Hash != y.Hash() || obs[0].ActiveState != "active" {
		t.Fatalf("observed after apply: %+v %v", obs, err)
	}
}

func TestRemoveSpecsKeepsOtherServices(t *testing.T) {
	dir := t.TempDir()
	web := &model.Service{Project: "hello", Name: "web", Image: "busybox"}
	web2 := &model.Service{Project: "hello", Name: "web-2", Image: "busybox"}
	keep, _ := specStore(dir).Save(t.Context(), web)
	old := *web
	old.Command = []string{"old"}
	stale, _ := specStore(dir).Save(t.Context(), &old)
	other, _ := specStore(dir).Save(t.Context(), web2)
	r := &Reconciler{StateDir: dir}
	if err := r.removeSpecs(t.Context(), web.Project, web.Name, keep); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]bool{keep: true, stale: false, other: true} {
		if _, err := os.Stat(path); (err == nil) != want {
			t.Errorf("%s: exists=%v, want %v", path, err == nil, want)
		}
	}
}

// TestRemoveSpecsTraversal: the names removeSpecs gets come from a unit's
// environment; one that climbs out of the specs dir or holds glob
// characters deletes nothing (issue 16: "kn-../../../specs/*" used to
// delete every project's specs).
func TestRemoveSpecsTraversal(t *testing.T) {
	dir := t.TempDir()
	var specs []string
	for _, svc := range []*model.Service{
		{Project: "hello", Name: "web", Image: "busybox"},
		{Project: "other", Name: "db", Image: "busybox"},
	} {
		p, err := specStore(dir).Save(t.Context(), svc)
		if err != nil {
			t.Fatal(err)
		}
		specs = append(specs, p)
	}
	r := &Reconciler{StateDir: filepath.Join(dir, "state", "x")}
	for _, c := range []struct{ project, service string }{
		{"kn", "../../../specs/*"},
		{"kn", "*"},
		{"hello", "w?b"},
		{"../..", "specs"},
	} {
		if err := r.removeSpecs(t.Context(), c.project, c.service); err == nil {
			t.Errorf("removeSpecs(%q, %q): no error", c.project, c.service)
		}
	}
	r.StateDir = dir
	if err := r.removeSpecs(t.Context(), "hello", "*"); err == nil {
		t.Error(`removeSpecs("hello", "*"): no error`)
	}
	for _, p := range specs {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}
}

// TestPlanRecreatesDependents: recreating a dependency stops its required
// dependents (Requires=), so the plan recreates them too; an optional one
// is left alone.
func TestPlanRecreatesDependents(t *testing.T) {
	db := model.Service{Project: "p", Name: "db", Image: "i", Command: []string{"v2"}}
	web := model.Service{Project: "p", Name: "web", Image: "i",
		DependsOn: map[string]model.Dependency{"db": {Condition: model.ConditionHealthy, Required: true}}}
	api := model.Service{Project: "p", Name: "api", Image: "i",
		DependsOn: map[string]model.Dependency{"web": {Condition: model.ConditionStarted, Required: true}}}
	side := model.Service{Project: "p", Name: "side", Image: "i",
		DependsOn: map[string]model.Dependency{"db": {Condition: model.ConditionStarted}}}
	proj := &model.Project{Name: "p", Services: []model.Service{db, web, api, side}}
	var obs []Observed
	for _, s := range proj.Services {
		h := s.Hash()
		if s.Name == "db" {
			h = "old"
		}
		obs = append(obs, Observed{Unit: units.Name("p", s.Name), Project: "p", Service: s.Name, Hash: h, ActiveState: "active"})
	}
	p := MakePlan([]model.Entry{{Name: "p", Project: proj}}, obs, nil)
	got := map[string]Action{}
	for _, c := range p.Changes {
		got[c.Service] = c.Action
	}
	want := map[string]Action{"db": Recreate, "web": Recreate, "api": Recreate, "side": Keep}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s, want %s", k, got[k], v)
		}
	}
}

// specStore is the spec store of state dir dir.
func specStore(dir string) paths.Specs { return paths.New("", dir, "").SpecStore() }
