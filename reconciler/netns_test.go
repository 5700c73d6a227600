package reconciler

import (
	"context"
	"slices"
	"testing"

	"github.com/berth-dev/berth/compose/model"

	"github.com/berth-dev/berth/units"
)

// A container joining another project's container's network namespace
// (bound to its unit, which must exist) starts after it, although the plan
// lists it first; two containers joining each other do not deadlock.
func TestApplyStartsNetnsPeerFirst(t *testing.T) {
	f := &fakeManager{}
	r := &Reconciler{Manager: f, StateDir: t.TempDir(), Units: units.Config{Binary: "/bin/berth"}}
	create := func(project, name, mode string) Change {
		return Change{Action: Create, Project: project, Service: name, Unit: units.Name(project, name),
			Desired: &model.Service{Project: project, Name: name, Image: "busybox", NetworkMode: mode}}
	}
	p := &Plan{Changes: []Change{
		create("ext", "tap", "container:modes/web"),
		create("loop", "a", "service:b"),
		create("loop", "b", "service:a"),
		create("modes", "web", ""),
	}}
	if err := r.Apply(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	tap, web := slices.Index(f.started, units.Name("ext", "tap")), slices.Index(f.started, units.Name("modes", "web"))
	if tap < 0 || web < 0 || tap < web || len(f.started) != 4 {
		t.Fatalf("started %v: tap must follow web", f.started)
	}
}
