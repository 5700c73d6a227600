package reconciler

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/compose/model"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestSourceKeepsLastGoodAcrossRestarts(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	good := model.Entry{Name: "hello", Project: &model.Project{Name: "hello", Services: []model.Service{{Project: "hello", Name: "web", Image: "busybox"}}}}
	broken := model.Entry{Name: "hello", Path: dir + "/hello/compose.yaml", Err: errors.New("hello/compose.yaml: line 3: bad")}
	current := good
	load := func(context.Context, string) ([]model.Entry, error) { return []model.Entry{current}, nil }

	s := &Source{Dir: dir, StateDir: state, Load: load, Log: quietLog()}
	if _, _, _, err := s.Snapshot(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	current = broken
	// A new Source is an agent restart: the last-good state is on disk.
	s = &Source{Dir: dir, StateDir: state, Load: load, Log: quietLog()}
	entries, errs, _, err := s.Snapshot(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) != 1 || !errs[0].LastGood || !strings.Contains(errs[0].Error, "line 3") {
		t.Fatalf("file errors: %+v", errs)
	}
	if entries[0].Err != nil || entries[0].Project.Services[0].Hash() != good.Project.Services[0].Hash() {
		t.Fatalf("broken entry was not replaced by its last-good state: %+v", entries[0])
	}
	// Deleting the entry forgets its last-good state.
	load2 := func(context.Context, string) ([]model.Entry, error) { return nil, nil }
	s.Load = load2
	if _, _, _, err := s.Snapshot(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(state, "agent", "last-good", "hello.json")); !os.IsNotExist(err) {
		t.Fatalf("last-good state of a deleted entry is kept: %v", err)
	}
}

func TestSourceReloadsOnlyOnChange(t *testing.T) {
	dir := t.TempDir()
	loads := 0
	s := &Source{Dir: dir, StateDir: t.TempDir(), Log: quietLog(), Load: func(context.Context, string) ([]model.Entry, error) {
		loads++
		return []model.Entry{}, nil
	}}
	ctx := context.Background()
	s.Snapshot(ctx, false)
	s.Snapshot(ctx, false)
	if loads != 1 {
		t.Fatalf("unchanged dir loaded %d times", loads)
	}
	// An empty config (no entries, as LoadDir returns nil) is loaded once too.
	s.Load = func(context.Context, string) ([]model.Entry, error) { loads++; return nil, nil }
	s.Snapshot(ctx, true)
	s.Snapshot(ctx, false)
	if loads != 2 {
		t.Fatalf("unchanged empty dir loaded %d times", loads-1)
	}
	os.WriteFile(filepath.Join(dir, "a.yaml"), []byte("x"), 0o644)
	if _, _, changed, _ := s.Snapshot(ctx, false); !changed || loads != 3 {
		t.Fatalf("changed dir: changed=%v loads=%d", changed, loads)
	}
	os.MkdirAll(filepath.Join(dir, ".git"), 0o755)
	os.WriteFile(filepath.Join(dir, ".git", "HEAD"), []byte("x"), 0o644)
	if _, _, changed, _ := s.Snapshot(ctx, false); changed {
		t.Fatal("a change under .git caused a reload")
	}
}

func TestWatchDebouncesBursts(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := Watch(ctx, dir, 150*time.Millisecond, 2*time.Second, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	// A git pull: a new project dir and ten files, quickly.
	os.MkdirAll(filepath.Join(dir, "p", "conf"), 0o755)
	for i := range 10 {
		os.WriteFile(filepath.Join(dir, "p", "conf", "f"+string(rune('a'+i))), []byte("x"), 0o644)
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case <-ch:
	case <-time.After(3 * time.Second):
		t.Fatal("no change reported")
	}
	select {
	case <-ch:
		t.Fatal("one burst gave two reports")
	case <-time.After(500 * time.Millisecond):
	}
	// The new subdirectory is watched too.
	os.WriteFile(filepath.Join(dir, "p", "conf", "fa"), []byte("changed"), 0o644)
	select {
	case <-ch:
	case <-time.After(3 * time.Second):
		t.Fatal("a change in a new subdirectory was not reported")
	}
}

func TestChangedFieldsNamesWhatChanged(t *testing.T) {
	old := &model.Service{Project: "p", Name: "s", Image: "a", Command: []string{"x"},
		Environment: map[string]string{"A": "1", "B": "2"},
		Mounts:      []model.Mount{{Type: model.MountBind, Source: "/etc/berth/p/nginx.conf", Target: "/etc/nginx.conf", ContentHash: "1"}}}
	cur := *old
	cur.Image = "b"
	cur.Environment = map[string]string{"A": "1", "B": "3", "C": "4"}
	cur.Mounts = []model.Mount{old.Mounts[0]}
	cur.Mounts[0].ContentHash = "2"
	got := strings.Join(ChangedFields(old, &cur), ", ")
	if got != "env B, env C, image, mount content /etc/nginx.conf" {
		t.Fatalf("fields: %s", got)
	}
}

func TestLimitsDrift(t *testing.T) {
	svc := &model.Service{Project: "p", Name: "s", Image: "a", Resources: model.Resources{MemoryMax: 64 << 20}}
	ok := &Limits{MemoryMax: 64 << 20, TasksMax: 4915, CPUQuotaPerSecUSec: Infinity}
	if d := limitsDrift(desiredLimits(svc), ok); d != "" {
		t.Fatalf("no drift expected: %s", d)
	}
	changed := *ok
	changed.MemoryMax = 32 << 20
	if d := limitsDrift(desiredLimits(svc), &changed); !strings.Contains(d, "MemoryMax") {
		t.Fatalf("MemoryMax drift not seen: %q", d)
	}
	quota := *ok
	quota.CPUQuotaPerSecUSec = 500000
	if d := limitsDrift(desiredLimits(svc), &quota); !strings.Contains(d, "CPUQuota") {
		t.Fatalf("a CPUQuota set by hand on an unlimited service not seen: %q", d)
	}
}

func TestIntentsKeepStoppedServicesStopped(t *testing.T) {
	state := t.TempDir()
	web := model.Service{Project: "hello", Name: "web", Image: "busybox"}
	if err := SetIntent(context.Background(), state, Intent{Unit: unitName(&web), Project: "hello", Service: "web", Stopped: true}); err != nil {
		t.Fatal(err)
	}
	in, err := LoadIntents(context.Background(), state)
	if err != nil {
		t.Fatal(err)
	}
	p := MakePlan([]model.Entry{project("hello", web)}, nil, nil)
	p.RespectIntents(in)
	if p.HasChanges() {
		t.Fatalf("a stopped service would be created: %+v", p.Changes)
	}
	ClearIntent(context.Background(), state, unitName(&web))
	in, _ = LoadIntents(context.Background(), state)
	p = MakePlan([]model.Entry{project("hello", web)}, nil, nil)
	p.RespectIntents(in)
	if !p.HasChanges() {
		t.Fatal("a started service is not created")
	}
}
