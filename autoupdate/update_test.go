package autoupdate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/compose/model"
)

// behaviour is how a fake container started from one digest acts.
type behaviour struct {
	failStart  bool         // the restart job fails
	crashAfter int          // > 0: the main PID changes after this many state reads
	health     HealthStatus // what its health check reports
}

// world is a fake host: units whose containers run whatever digest their
// image's tag points at when they are restarted.
type world struct {
	mu      sync.Mutex
	remote  map[string]string // image -> digest in the registry
	stored  map[string]bool   // digests in the local store
	tags    map[string]string // ref -> digest in the local store
	act     map[string]behaviour
	units   map[string]*fakeUnit
	log     []string // "restart unit" in order
	pruned  []string
	heads   int
	targets []Target
}

type fakeUnit struct {
	svc      *model.Service
	digest   string
	pid      int
	restarts uint32
	reads    int
	active   string
}

func newWorld() *world {
	return &world{remote: map[string]string{}, stored: map[string]bool{}, tags: map[string]string{},
		act: map[string]behaviour{}, units: map[string]*fakeUnit{}}
}

// run adds a service running image at digest.
func (w *world) run(name, image, digest string, deps ...string) {
	svc := &model.Service{Project: "p", Name: name, Image: image, AutoUpdate: "registry",
		DependsOn: map[string]model.Dependency{}}
	for _, d := range deps {
		svc.DependsOn[d] = model.Dependency{Condition: model.ConditionStarted}
	}
	unit := "berth-p-" + name + ".service"
	w.units[unit] = &fakeUnit{svc: svc, digest: digest, pid: 100, active: "active"}
	w.stored[digest] = true
	w.tags[image] = digest
	w.targets = append(w.targets, Target{Unit: unit, Service: svc, RunningDigest: digest})
}

func (w *world) Targets(ctx context.Context) ([]Target, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := slices.Clone(w.targets)
	for i := range out {
		out[i].RunningDigest = w.units[out[i].Unit].digest
	}
	return out, nil
}

func (w *world) Resolve(ctx context.Context, ref string) (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.heads++
	d, ok := w.remote[ref]
	if !ok {
		return "", errors.New("connection refused")
	}
	return d, nil
}

func (w *world) Pull(ctx context.Context, ref string) (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, d, _ := strings.Cut(ref, "@")
	w.stored[d] = true
	w.tags[ref] = d
	return d, nil
}

func (w *world) Tag(ctx context.Context, ref, digest string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stored[digest] {
		return fmt.Errorf("%s: not in the store", digest)
	}
	w.tags[ref] = digest
	return nil
}

func (w *world) Prune(ctx context.Context, keep []string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pruned = slices.Sorted(slices.Values(keep))
	return nil
}

func (w *world) Restart(ctx context.Context, unit string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	u := w.units[unit]
	w.log = append(w.log, "restart "+unit)
	u.digest = w.tags[u.svc.Image]
	u.pid += 10
	u.reads = 0
	if w.act[u.digest].failStart {
		u.active = "failed"
		return errors.New("job failed")
	}
	u.active = "active"
	return nil
}

func (w *world) ResetFailed(ctx context.Context, unit string) error { return nil }

func (w *world) State(ctx context.Context, unit string) (UnitState, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	u := w.units[unit]
	u.reads++
	if b := w.act[u.digest]; b.crashAfter > 0 && u.reads > b.crashAfter {
		u.pid++
		u.restarts++
		u.reads = 0
	}
	return UnitState{ActiveState: u.active, SubState: "running", Result: "success", MainPID: u.pid, Restarts: u.restarts}, nil
}

func (w *world) RunningDigest(ctx context.Context, svc *model.Service) (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.units["berth-p-"+svc.Name+".service"].digest, nil
}

func (w *world) Status(ctx context.Context, svc *model.Service) (HealthStatus, error) {
	d, _ := w.RunningDigest(ctx, svc)
	w.mu.Lock()
	defer w.mu.Unlock()
	if h := w.act[d].health; h != "" {
		return h, nil
	}
	return HealthHealthy, nil
}

func (w *world) updater(t *testing.T) *Updater {
	return &Updater{Source: w, Images: w, Units: w, Containers: w, Health: w,
		State: State{Dir: t.TempDir()}, StateDir: t.TempDir(), Soak: 40 * time.Millisecond, Poll: 2 * time.Millisecond}
}

func byUnit(rep Report) map[string]Result {
	m := map[string]Result{}
	for _, r := range rep.Results {
		m[strings.TrimSuffix(strings.TrimPrefix(r.Unit, "berth-p-"), ".service")] = r
	}
	return m
}

func TestUpdateCrashInSoakRollsBackAndSkipsNextTime(t *testing.T) {
	w := newWorld()
	w.run("app", "reg/app:1", "sha256:v1")
	w.remote["reg/app:1"] = "sha256:v2"
	w.act["sha256:v2"] = behaviour{crashAfter: 3}
	u := w.updater(t)

	rep, err := u.Run(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := byUnit(rep)["app"]
	if r.Status != StatusRolledBack || r.Err == nil || !strings.Contains(r.Err.Error(), "restarted") {
		t.Fatalf("result %+v; want rolled-back because it restarted", r)
	}
	if !rep.Failed() {
		t.Error("a rollback must fail the run")
	}
	if d := w.units["berth-p-app.service"].digest; d != "sha256:v1" || w.tags["reg/app:1"] != "sha256:v1" {
		t.Errorf("after rollback the unit runs %s and the tag points at %s; want v1", d, w.tags["reg/app:1"])
	}
	ev, _ := u.State.History(context.Background(), 0)
	if len(ev) != 1 || ev[0].Result != StatusRolledBack || ev[0].From != "sha256:v1" || ev[0].To != "sha256:v2" || ev[0].Reason == "" {
		t.Errorf("history %+v", ev)
	}

	restarts := len(w.log)
	rep, _ = u.Run(context.Background(), Options{})
	if r := byUnit(rep)["app"]; r.Status != StatusSkipped || rep.Failed() || len(w.log) != restarts {
		t.Errorf("second run: %+v, %d restarts; want skipped, nothing restarted", r, len(w.log)-restarts)
	}

	w.remote["reg/app:1"] = "sha256:v3" // the tag moves: tried again
	rep, _ = u.Run(context.Background(), Options{})
	if r := byUnit(rep)["app"]; r.Status != StatusUpdated || w.units["berth-p-app.service"].digest != "sha256:v3" {
		t.Errorf("after the tag moved: %+v", r)
	}
}

func TestUpdateHealthGatesTheSoak(t *testing.T) {
	for _, tc := range []struct {
		health HealthStatus
		want   string
	}{
		{HealthStarting, "no passing health check"},
		{HealthUnhealthy, "unhealthy"},
	} {
		t.Run(string(tc.health), func(t *testing.T) {
			w := newWorld()
			w.run("app", "reg/app:1", "sha256:v1")
			w.units["berth-p-app.service"].svc.Health = &model.Health{Cmd: []string{"true"},
				Interval: 10 * time.Millisecond, Timeout: 10 * time.Millisecond, Retries: 2}
			w.remote["reg/app:1"] = "sha256:v5"
			w.act["sha256:v5"] = behaviour{health: tc.health}
			rep, err := w.updater(t).Run(context.Background(), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if r := byUnit(rep)["app"]; r.Status != StatusRolledBack || !strings.Contains(r.Err.Error(), tc.want) {
				t.Errorf("result %+v; want rolled-back: %s", r, tc.want)
			}
		})
	}
}

func TestUpdateSharedImageInDependencyOrderRollsBackTogether(t *testing.T) {
	w := newWorld()
	// Listed web first; web depends on db, so db goes first.
	w.run("web", "reg/app:1", "sha256:v1", "db")
	w.run("db", "reg/app:1", "sha256:v1")
	w.run("other", "reg/other:1", "sha256:o1")
	w.remote["reg/app:1"] = "sha256:v2"
	w.remote["reg/other:1"] = "sha256:o2"
	u := w.updater(t)

	rep, err := u.Run(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if w.heads != 2 {
		t.Errorf("%d registry questions for 2 images", w.heads)
	}
	want := []string{"restart berth-p-db.service", "restart berth-p-web.service", "restart berth-p-other.service"}
	if !slices.Equal(w.log, want) {
		t.Errorf("restarts %v; want %v", w.log, want)
	}
	for _, n := range []string{"web", "db", "other"} {
		if r := byUnit(rep)[n]; r.Status != StatusUpdated {
			t.Errorf("%s: %+v", n, r)
		}
	}
	// Prune keeps the images in use and v1, the rollback target.
	for _, k := range []string{"reg/app:1", "reg/app@sha256:v1", "reg/app@sha256:v2", "reg/other@sha256:o1"} {
		if !slices.Contains(w.pruned, k) {
			t.Errorf("prune keep list %v lacks %s", w.pruned, k)
		}
	}

	// v3: db passes, web crashes: both end on v2 again, in reverse order.
	w.remote["reg/app:1"] = "sha256:v3"
	w.log = nil
	u.Units = &webFails{world: w}
	rep, _ = u.Run(context.Background(), Options{})
	got := byUnit(rep)
	if got["web"].Status != StatusRolledBack || got["db"].Status != StatusRolledBack {
		t.Errorf("web %s, db %s; want both rolled back", got["web"].Status, got["db"].Status)
	}
	want = []string{"restart berth-p-db.service", "restart berth-p-web.service", "restart berth-p-web.service", "restart berth-p-db.service"}
	if !slices.Equal(w.log, want) {
		t.Errorf("restarts %v; want %v", w.log, want)
	}
	for _, n := range []string{"web", "db"} {
		if d := w.units["berth-p-"+n+".service"].digest; d != "sha256:v2" {
			t.Errorf("%s runs %s; want v2", n, d)
		}
	}
}

// webFails makes web's restart job fail while it would run v3.
type webFails struct{ *world }

func (f *webFails) Restart(ctx context.Context, unit string) error {
	err := f.world.Restart(ctx, unit)
	if unit == "berth-p-web.service" && f.units[unit].digest == "sha256:v3" {
		f.units[unit].active = "failed"
		return errors.New("job failed")
	}
	return err
}

func TestUpdateWithoutRollbackLeavesTheNewImage(t *testing.T) {
	w := newWorld()
	w.run("app", "reg/app:1", "sha256:v1")
	w.remote["reg/app:1"] = "sha256:v2"
	w.act["sha256:v2"] = behaviour{crashAfter: 2}
	rep, _ := w.updater(t).Run(context.Background(), Options{NoRollback: true})
	r := byUnit(rep)["app"]
	if r.Status != StatusFailed || !strings.Contains(r.Err.Error(), "rollback disabled") {
		t.Errorf("result %+v", r)
	}
	if d := w.units["berth-p-app.service"].digest; d != "sha256:v2" {
		t.Errorf("unit runs %s; want v2 left in place", d)
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	w := newWorld()
	w.run("app", "reg/app:1", "sha256:v1")
	w.remote["reg/app:1"] = "sha256:v2"
	u := w.updater(t)
	rep, err := u.Run(context.Background(), Options{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if r := byUnit(rep)["app"]; r.Status != StatusPending || len(w.log) != 0 || w.tags["reg/app:1"] != "sha256:v1" {
		t.Errorf("dry run: %+v, restarts %v", r, w.log)
	}
	lock, err := ReadLockfile(context.Background(), u.StateDir)
	if err != nil || lock.Images["reg/app:1"].Available != "sha256:v2" || lock.Images["reg/app:1"].Digest != "sha256:v1" {
		t.Errorf("lockfile after a dry run: %+v, %v", lock, err)
	}
}

func TestDigestRef(t *testing.T) {
	for in, want := range map[string]string{
		"reg:5000/app:1":     "reg:5000/app@sha256:d",
		"reg:5000/app":       "reg:5000/app@sha256:d",
		"busybox":            "busybox@sha256:d",
		"reg/app@sha256:old": "reg/app@sha256:d",
	} {
		if got := DigestRef(in, "sha256:d"); got != want {
			t.Errorf("DigestRef(%q) = %q, want %q", in, got, want)
		}
	}
}
