package reconciler

import (
	"testing"

	"github.com/berth-dev/berth/compose/model"

	"github.com/berth-dev/berth/units"
)

func podEntry(hostname string, svcs ...model.Service) model.Entry {
	e := project("web", svcs...)
	e.Project.Pods = []*model.Pod{{Name: "web", Hostname: hostname}}
	return e
}

func podObserved(p *model.Project, state string) Observed {
	return Observed{Unit: units.PodName(p.Name), Project: p.Name, Service: units.PodService, Hash: units.PodHash(p.Pods[0]), ActiveState: state}
}

// TestPlanPod: a pod project plans its sandbox unit first; an unchanged pod
// is kept; a changed pod is recreated with all its containers (stopping it
// stops them); deleting the file removes the pod unit too.
func TestPlanPod(t *testing.T) {
	main := model.Service{Name: "main", Image: "busybox", Pod: "web"}
	side := model.Service{Name: "side", Image: "busybox", Pod: "web"}
	e := podEntry("web", main, side)
	m, s := e.Project.Services[0], e.Project.Services[1]
	obs := []Observed{podObserved(e.Project, "active"), observed(m, "active"), observed(s, "active")}

	p := MakePlan([]model.Entry{podEntry("web", main, side)}, nil, nil)
	if len(p.Changes) != 3 || p.Changes[0].Unit != "berth-web.pod.service" || p.Changes[0].Action != Create || p.Changes[0].Pod == nil {
		t.Fatalf("fresh pod plan: %+v", p.Changes)
	}

	p = MakePlan([]model.Entry{podEntry("web", main, side)}, obs, nil)
	if p.HasChanges() {
		t.Errorf("unchanged pod: %v", actions(p))
	}

	p = MakePlan([]model.Entry{podEntry("web-2", main, side)}, obs, nil)
	want := map[string]Action{"web/.pod": Recreate, "web/main": Recreate, "web/side": Recreate}
	for k, v := range want {
		if got := actions(p)[k]; got != v {
			t.Errorf("hostname change: %s %q, want %q", k, got, v)
		}
	}

	p = MakePlan(nil, obs, nil)
	if got := actions(p); got["web/.pod"] != Remove || got["web/main"] != Remove || got["web/side"] != Remove {
		t.Errorf("file removed: %v", got)
	}
}
