package reconciler

import (
	"context"
	"slices"
	"testing"

	"github.com/berth-dev/berth/compose/model"

	"github.com/berth-dev/berth/units"
)

// severalPods is the project of a file with a workload per pod name:
// services <pod>-app, as the Kubernetes loader names them.
func severalPods(project string, pods ...string) model.Entry {
	p := &model.Project{Name: project}
	for _, name := range pods {
		id := model.PodID(project, name)
		p.Pods = append(p.Pods, &model.Pod{Name: name, ID: id, Hostname: name})
		p.Services = append(p.Services, model.Service{Project: project, Name: name + "-app", Image: "busybox", Pod: name, PodID: id, Hostname: name})
	}
	return model.Entry{Name: project, Project: p}
}

// TestApplySeveralPods (issue 17): each workload of a file gets its own pod
// unit, started before its own containers; deleting one workload from the
// file stops its pod and containers only.
func TestApplySeveralPods(t *testing.T) {
	ctx := context.Background()
	f := &fakeManager{}
	r := &Reconciler{Manager: f, StateDir: t.TempDir(), Units: units.Config{Binary: "/bin/berth"}}
	apply := func(e model.Entry) *Plan {
		t.Helper()
		obs, err := f.Observe(ctx)
		if err != nil {
			t.Fatal(err)
		}
		p := MakePlan([]model.Entry{e}, obs, nil)
		if len(p.Errors) > 0 {
			t.Fatal(p.Errors)
		}
		if err := r.Apply(ctx, p); err != nil {
			t.Fatal(err)
		}
		return p
	}

	p := apply(severalPods("shop", "web", "cache"))
	want := map[string]Action{"shop/.pod.web": Create, "shop/.pod.cache": Create, "shop/web-app": Create, "shop/cache-app": Create}
	if got := actions(p); !mapsEqual(got, want) {
		t.Fatalf("first plan %v, want %v", got, want)
	}
	webPod, cachePod := "berth-shop.web.pod.service", "berth-shop.cache.pod.service"
	webApp, cacheApp := units.Name("shop", "web-app"), units.Name("shop", "cache-app")
	for _, c := range [][2]string{{webPod, webApp}, {cachePod, cacheApp}} {
		i, j := slices.Index(f.started, c[0]), slices.Index(f.started, c[1])
		if i < 0 || j < 0 || i > j {
			t.Errorf("started %v: want %s before %s", f.started, c[0], c[1])
		}
	}
	obs, _ := f.Observe(ctx)
	if len(obs) != 4 {
		t.Fatalf("running %+v", obs)
	}

	if p := apply(severalPods("shop", "web", "cache")); p.HasChanges() {
		t.Errorf("unchanged file: %v", actions(p))
	}

	f.stopped, f.started = nil, nil
	p = apply(severalPods("shop", "web", "other"))
	want = map[string]Action{"shop/.pod.web": Keep, "shop/web-app": Keep, "shop/.pod.cache": Remove, "shop/cache-app": Remove,
		"shop/.pod.other": Create, "shop/other-app": Create}
	if got := actions(p); !mapsEqual(got, want) {
		t.Errorf("plan after replacing cache by other: %v, want %v", got, want)
	}
	slices.Sort(f.stopped)
	if !slices.Equal(f.stopped, sortedCopy([]string{cachePod, cacheApp})) {
		t.Errorf("stopped %v, want the cache pod and its container only", f.stopped)
	}
	obs, _ = f.Observe(ctx)
	var running []string
	for _, o := range obs {
		if o.ActiveState == "active" { // systemd unloads a stopped pod unit once nothing refers to it
			running = append(running, o.Unit)
		}
	}
	slices.Sort(running)
	if w := []string{webApp, units.Name("shop", "other-app"), "berth-shop.other.pod.service", webPod}; !slices.Equal(running, sortedCopy(w)) {
		t.Errorf("running %v, want %v", running, sortedCopy(w))
	}
}

func mapsEqual(a, b map[string]Action) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func sortedCopy(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestPlanSeveralPodsRecreatesOnlyTheChangedPod: a changed pod is
// recreated with its own containers; the file's other pods keep running.
func TestPlanSeveralPodsRecreatesOnlyTheChangedPod(t *testing.T) {
	e := severalPods("shop", "web", "cache")
	var obs []Observed
	for _, pod := range e.Project.Pods {
		obs = append(obs, Observed{Unit: units.PodName(pod.Key("shop")), Project: "shop", Service: pod.Service(), Hash: units.PodHash(pod), ActiveState: "active"})
	}
	for _, s := range e.Project.Services {
		obs = append(obs, observed(s, "active"))
	}
	changed := severalPods("shop", "web", "cache")
	changed.Project.Pods[0].Hostname = "www"
	p := MakePlan([]model.Entry{changed}, obs, nil)
	want := map[string]Action{"shop/.pod.web": Recreate, "shop/web-app": Recreate, "shop/.pod.cache": Keep, "shop/cache-app": Keep}
	if got := actions(p); !mapsEqual(got, want) {
		t.Errorf("plan %v, want %v", got, want)
	}
}
