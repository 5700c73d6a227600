package reconciler

import (
	"errors"
	"testing"

	"github.com/berth-dev/berth/compose"
	"github.com/berth-dev/berth/units"
)

func project(name string, svcs ...compose.Service) compose.Entry {
	for i := range svcs {
		svcs[i].Project = name
	}
	return compose.Entry{Name: name, Project: &compose.Project{Name: name, Services: svcs}}
}

func observed(s compose.Service, state string) Observed {
	return Observed{Unit: units.Name(s.Project, s.Name), Project: s.Project, Service: s.Name, Hash: s.Hash(), ActiveState: state, MainPID: 42}
}

func actions(p *Plan) map[string]Action {
	m := map[string]Action{}
	for _, c := range p.Changes {
		m[c.Project+"/"+c.Service] = c.Action
	}
	return m
}

func TestMakePlan(t *testing.T) {
	web := compose.Service{Project: "hello", Name: "web", Image: "busybox"}
	ticker := compose.Service{Project: "hello", Name: "ticker", Image: "busybox", Command: []string{"a"}}
	edited := ticker
	edited.Command = []string{"b"}
	gone := compose.Service{Project: "old", Name: "x", Image: "busybox"}
	dropped := compose.Service{Project: "hello", Name: "dropped", Image: "busybox"}

	p := MakePlan(
		[]compose.Entry{project("hello", web, edited), project("new", compose.Service{Name: "db", Image: "busybox"})},
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

func TestPlanNoChanges(t *testing.T) {
	web := compose.Service{Project: "hello", Name: "web", Image: "busybox"}
	p := MakePlan([]compose.Entry{project("hello", web)}, []Observed{observed(web, "active")}, nil)
	if p.HasChanges() {
		t.Fatalf("want no changes, got %+v", p.Changes)
	}
}

func TestBrokenFileKeepsRunningUnits(t *testing.T) {
	web := compose.Service{Project: "hello", Name: "web", Image: "busybox"}
	p := MakePlan([]compose.Entry{{Name: "hello", Err: errors.New("hello/compose.yaml: line 3: bad")}},
		[]Observed{observed(web, "active")}, nil)
	if p.HasChanges() || len(p.Errors) != 1 {
		t.Fatalf("broken file must keep units and report: changes %+v errors %v", p.Changes, p.Errors)
	}
}

func TestPlanOnlySelectedProjects(t *testing.T) {
	a := compose.Service{Project: "a", Name: "s", Image: "busybox"}
	other := compose.Service{Project: "b", Name: "s", Image: "busybox"}
	p := MakePlan([]compose.Entry{project("a", a)}, []Observed{observed(other, "active")}, []string{"a"})
	got := actions(p)
	if got["a/s"] != Create || got["b/s"] != "" {
		t.Fatalf("apply a must not touch b: %v", got)
	}
}

func TestFailedUnitIsRecreated(t *testing.T) {
	web := compose.Service{Project: "hello", Name: "web", Image: "busybox"}
	p := MakePlan([]compose.Entry{project("hello", web)}, []Observed{observed(web, "failed")}, nil)
	if actions(p)["hello/web"] != Recreate {
		t.Fatalf("failed unit: %v", actions(p))
	}
}
