package reconciler

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/berth-dev/berth/compose/model"
	"github.com/berth-dev/berth/runtime/paths"
	"github.com/berth-dev/berth/units"
)

// fakeNetworks records the pass's network steps; a reserving Allocate
// writes one file per project under the state dir, as IPAM would.
type fakeNetworks struct {
	stateDir string
	mu       sync.Mutex
	allocs   []string // "project reserve"
	gcs      int
}

func (n *fakeNetworks) Allocate(_ context.Context, entries []model.Entry, only []string, reserve bool) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, e := range entries {
		if e.Project == nil || len(only) > 0 && !slices.Contains(only, e.Name) {
			continue
		}
		n.allocs = append(n.allocs, fmt.Sprintf("%s %t", e.Name, reserve))
		if reserve {
			dir := filepath.Join(n.stateDir, "networks")
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(dir, e.Name), nil, 0o600); err != nil {
				return err
			}
		}
	}
	return nil
}

func (n *fakeNetworks) GC(context.Context, []model.Entry, []string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.gcs++
	return nil
}

func passFixture(t *testing.T, obs ...Observed) (*Reconciler, *fakeManager, *fakeNetworks) {
	t.Helper()
	state := t.TempDir()
	m := &fakeManager{obs: obs}
	n := &fakeNetworks{stateDir: state}
	return &Reconciler{Manager: m, Networks: n, StateDir: state, Units: units.Config{Binary: "/bin/berth"}, Log: quietLog()}, m, n
}

func loadOf(entries ...model.Entry) func(context.Context) (Loaded, error) {
	return func(context.Context) (Loaded, error) {
		return Loaded{Entries: slices.Clone(entries), Reloaded: true}, nil
	}
}

// tree lists every path under dir with its size.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		out = append(out, fmt.Sprintf("%s %d", strings.TrimPrefix(path, dir), fi.Size()))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPassPrunesStaleSpecsAndIntents: apply deletes frozen specs nothing
// refers to (an apply killed half-way) and intents of services no file
// declares, and keeps those of the running and the stopped services.
func TestPassPrunesStaleSpecsAndIntents(t *testing.T) {
	web := model.Service{Project: "hello", Name: "web", Image: "busybox"}
	db := model.Service{Project: "hello", Name: "db", Image: "busybox"}
	r, m, _ := passFixture(t, observed(web, "active"))
	specs := filepath.Join(r.StateDir, "specs")
	if err := os.MkdirAll(specs, 0o700); err != nil {
		t.Fatal(err)
	}
	webSpec, err := paths.New("", r.StateDir, "").SpecStore().Save(context.Background(), &web)
	if err != nil {
		t.Fatal(err)
	}
	stale := []string{filepath.Join(specs, "hello-web-0123456789ab.json"), filepath.Join(specs, "gone-x-0123456789ab.json")}
	for _, f := range stale {
		if err := os.WriteFile(f, []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, in := range []Intent{
		{Unit: units.Name("hello", "db"), Project: "hello", Service: "db", Stopped: true},
		{Unit: units.Name("gone", "x"), Project: "gone", Service: "x", Stopped: true},
	} {
		if err := SetIntent(context.Background(), r.StateDir, in); err != nil {
			t.Fatal(err)
		}
	}

	res, err := r.Pass(context.Background(), Options{Load: loadOf(project("hello", web, db))})
	if err != nil || res.Err() != nil {
		t.Fatal(err, res.Err())
	}
	for _, f := range stale {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("stale spec %s kept (%v)", filepath.Base(f), err)
		}
	}
	if _, err := os.Stat(webSpec); err != nil {
		t.Errorf("the running service's spec was pruned: %v", err)
	}
	in, err := LoadIntents(context.Background(), r.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	if !in[units.Name("hello", "db")].Stopped || in[units.Name("gone", "x")].Stopped {
		t.Errorf("intents after the pass: %+v", in)
	}
	if len(m.started) != 0 || len(m.stopped) != 0 {
		t.Errorf("units changed: started %v, stopped %v", m.started, m.stopped)
	}
}

// TestPassDryRunWritesNothing: plan looks addresses up without reserving
// them, writes no spec, takes no lock file, changes no unit and runs no GC.
func TestPassDryRunWritesNothing(t *testing.T) {
	web := model.Service{Project: "hello", Name: "web", Image: "busybox"}
	r, m, n := passFixture(t)
	before := tree(t, r.StateDir)
	res, err := r.Pass(context.Background(), Options{Load: loadOf(project("hello", web)), DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(res.Plan); got["hello/web"] != Create {
		t.Fatalf("plan: %v", got)
	}
	if after := tree(t, r.StateDir); !slices.Equal(before, after) {
		t.Fatalf("state dir changed by a dry run:\nbefore %v\nafter  %v", before, after)
	}
	if !slices.Equal(n.allocs, []string{"hello false"}) || n.gcs != 0 {
		t.Fatalf("networks: allocations %v, %d GCs", n.allocs, n.gcs)
	}
	if len(m.started) != 0 {
		t.Fatalf("a dry run started %v", m.started)
	}
}

// TestControlStopAllocatesNothing: `berth stop web` records the intent and
// stops the one unit; no project gets addresses and no GC runs. `berth
// start web` then allocates for web's project only and creates its unit.
func TestControlStopAllocatesNothing(t *testing.T) {
	web := model.Service{Project: "hello", Name: "web", Image: "busybox"}
	db := model.Service{Project: "other", Name: "db", Image: "busybox"}
	r, m, n := passFixture(t, observed(web, "active"), observed(db, "active"))
	load := loadOf(project("hello", web), project("other", db))
	var out []string
	report := func(t Target, outcome string) { out = append(out, t.Project+"/"+t.Service+" "+outcome) }

	if err := r.Control(context.Background(), ControlOptions{Load: load, Verb: VerbStop, Args: []string{"web"}, Report: report}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.stopped, []string{units.Name("hello", "web")}) || len(m.started) != 0 {
		t.Fatalf("stop web: stopped %v, started %v", m.stopped, m.started)
	}
	if len(n.allocs) != 0 || n.gcs != 0 {
		t.Fatalf("stop web: allocations %v, %d GCs", n.allocs, n.gcs)
	}
	if _, err := os.Stat(filepath.Join(r.StateDir, "networks")); !os.IsNotExist(err) {
		t.Fatalf("stop web reserved addresses: %v", err)
	}
	if in, _ := LoadIntents(context.Background(), r.StateDir); !in[units.Name("hello", "web")].Stopped {
		t.Fatalf("no stopped intent: %+v", in)
	}

	m.obs = []Observed{observed(db, "active")} // web's transient unit is gone
	if err := r.Control(context.Background(), ControlOptions{Load: load, Verb: VerbStart, Args: []string{"web"}, Report: report}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(n.allocs, []string{"hello true"}) {
		t.Fatalf("start web: allocations %v", n.allocs)
	}
	if !slices.Equal(m.started, []string{units.Name("hello", "web")}) {
		t.Fatalf("start web: started %v", m.started)
	}
	if in, _ := LoadIntents(context.Background(), r.StateDir); in[units.Name("hello", "web")].Stopped {
		t.Fatal("start kept the stopped intent")
	}
	if want := []string{"hello/web stopped", "hello/web started"}; !slices.Equal(out, want) {
		t.Fatalf("reports %v, want %v", out, want)
	}
}

// TestPassDown: `berth down hello` removes every unit of hello, unit-file
// ones included, keeps the other projects' units and intents, and runs
// network GC as if hello's file were gone.
func TestPassDown(t *testing.T) {
	web := model.Service{Project: "hello", Name: "web", Image: "busybox"}
	db := model.Service{Project: "other", Name: "db", Image: "busybox"}
	byFile := observed(model.Service{Project: "hello", Name: "cron", Image: "busybox"}, "active")
	byFile.UnitFile = true
	r, m, n := passFixture(t, observed(web, "active"), observed(db, "active"), byFile)
	if err := SetIntent(context.Background(), r.StateDir, Intent{Unit: units.Name("other", "db"), Project: "other", Service: "db", Stopped: true}); err != nil {
		t.Fatal(err)
	}
	res, err := r.Pass(context.Background(), Options{Load: loadOf(project("hello", web), project("other", db)), Down: []string{"hello"}})
	if err != nil || res.Err() != nil {
		t.Fatal(err, res.Err())
	}
	slices.Sort(m.stopped)
	if want := []string{units.Name("hello", "cron"), units.Name("hello", "web")}; !slices.Equal(m.stopped, want) {
		t.Fatalf("stopped %v, want %v", m.stopped, want)
	}
	if len(n.allocs) != 0 || n.gcs != 1 {
		t.Fatalf("networks: allocations %v, %d GCs", n.allocs, n.gcs)
	}
	if in, _ := LoadIntents(context.Background(), r.StateDir); !in[units.Name("other", "db")].Stopped {
		t.Fatal("down forgot another project's intent")
	}
}
