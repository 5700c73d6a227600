package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/reconciler"
	"github.com/berth-dev/berth/runtime/paths"
	"github.com/berth-dev/berth/units"
	"github.com/coreos/go-systemd/v22/unit"
)

// TestGenerateSystemd: the files generate writes pass systemd's validator,
// and their [Unit]/[Service] options are exactly the transient unit's, so a
// generated unit and an applied one run the same thing.
func TestGenerateSystemd(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Fatal("systemd-analyze is required (apt-get install systemd)")
	}
	tmp := t.TempDir()
	g := &globalOptions{ConfigDir: filepath.Join(tmp, "etc"), StateDir: filepath.Join(tmp, "state"), RunDir: "/run/berth"}
	out := filepath.Join(tmp, "units")
	hello, err := os.ReadFile("../../units/testdata/hello.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(g.ConfigDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(g.ConfigDir, "hello.yaml"), hello, 0o644); err != nil {
		t.Fatal(err)
	}
	// verify checks that ExecStart's binary exists; /bin/true stands in.
	o := &generateOptions{Output: out, Binary: "/bin/true"}
	var printed bytes.Buffer
	if err := runGenerateSystemd(context.Background(), g, o, "hello", &printed); err != nil {
		t.Fatal(err)
	}

	p, err := loadProjectNetworked(context.Background(), g, "hello")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := unitConfig(g, "/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	// The written unit is the transient one, marked as a unit file.
	cfg.UnitFile = true
	var wantPaths []string
	for i := range p.Services {
		svc := &p.Services[i]
		spec, err := paths.New("", g.StateDir, "").SpecStore().Path(svc)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := paths.LoadSpec(t.Context(), spec); err != nil {
			t.Errorf("frozen spec of %s: %v", svc.Name, err)
		}
		transient := units.Service(cfg, svc, spec)
		path := filepath.Join(out, transient.Name)
		wantPaths = append(wantPaths, path)

		if out, err := exec.Command("systemd-analyze", "verify", "--man=no", path).CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("systemd-analyze verify %s: %v\n%s", path, err, out)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		written, err := unit.Deserialize(f)
		f.Close()
		if err != nil {
			t.Fatalf("parsing %s: %v", path, err)
		}
		// Text groups options by section; within a section the order (which
		// matters for lists such as Environment=) must be the same.
		for _, sec := range []string{"Unit", "Service"} {
			if got, want := section(written, sec), section(transient.Options, sec); !reflect.DeepEqual(got, want) {
				t.Errorf("%s: [%s] differs from the transient unit\nwritten:   %s\ntransient: %s", path, sec, dump(got), dump(want))
			}
		}
		if n := len(section(written, "Unit")) + len(section(written, "Service")); n != len(transient.Options) {
			t.Errorf("%s: %d [Unit]/[Service] options, transient unit has %d", path, n, len(transient.Options))
		}
		install := section(written, "Install")
		if want := []*unit.UnitOption{unit.NewUnitOption("Install", "WantedBy", "multi-user.target")}; !reflect.DeepEqual(install, want) {
			t.Errorf("%s: [Install] = %s, want %s", path, dump(install), dump(want))
		}
		// The persistent unit still renders as the same D-Bus properties.
		tp, err := transient.Properties()
		if err != nil {
			t.Fatal(err)
		}
		pp, err := units.Persistent(transient).Properties()
		if err != nil || !reflect.DeepEqual(pp, tp) {
			t.Errorf("%s: persistent D-Bus properties differ (err %v)", path, err)
		}
	}
	// No registry serves the example's image here: a warning says its
	// HEALTHCHECK is left out, and the units are written all the same.
	var paths []string
	for _, l := range strings.Split(strings.TrimSpace(printed.String()), "\n") {
		if !strings.HasPrefix(l, "warning: ") {
			paths = append(paths, l)
		}
	}
	if got := paths; !reflect.DeepEqual(got, wantPaths) {
		t.Errorf("printed %q, want %q", got, wantPaths)
	}
	if err := runGenerateSystemd(context.Background(), g, o, "nope", &printed); err == nil || !strings.Contains(err.Error(), `no project "nope"`) {
		t.Errorf("unknown project: err = %v", err)
	}
	if err := os.WriteFile(filepath.Join(g.ConfigDir, "broken.yaml"), []byte("services: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := runGenerateSystemd(context.Background(), g, o, "broken", &printed); err == nil || !strings.Contains(err.Error(), "broken.yaml") {
		t.Errorf("broken project: err = %v, want the file named", err)
	}
}

func section(opts []*unit.UnitOption, name string) []*unit.UnitOption {
	var out []*unit.UnitOption
	for _, o := range opts {
		if o.Section == name {
			out = append(out, o)
		}
	}
	return out
}

func dump(opts []*unit.UnitOption) string {
	var s []string
	for _, o := range opts {
		s = append(s, o.String())
	}
	return strings.Join(s, "; ")
}

// TestGenerateSystemdTraversal: a Kubernetes container named to climb out
// of the state dir is refused with file:line, and generate writes nothing
// anywhere (issue 16: it wrote escaped-spec-<hash>.json outside the state
// dir).
func TestGenerateSystemdTraversal(t *testing.T) {
	tmp := t.TempDir()
	g := &globalOptions{ConfigDir: filepath.Join(tmp, "a", "b", "etc"), StateDir: filepath.Join(tmp, "a", "b", "state"), RunDir: "/run/berth"}
	if err := os.MkdirAll(g.ConfigDir, 0o755); err != nil {
		t.Fatal(err)
	}
	pod := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: kn\nspec:\n  containers:\n  - name: ../../../../escaped-spec\n    image: busybox\n"
	if err := os.WriteFile(filepath.Join(g.ConfigDir, "kn.yaml"), []byte(pod), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(tmp, "a", "b", "units")
	err := runGenerateSystemd(context.Background(), g, &generateOptions{Output: out, Binary: "/bin/true"}, "kn", &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "kn.yaml:7: ") {
		t.Fatalf("error %v, want one naming kn.yaml:7", err)
	}
	_ = filepath.WalkDir(tmp, func(path string, d os.DirEntry, err error) error {
		// The reconcile lock and the address reservation's lock are the
		// only files expected.
		if err == nil && !d.IsDir() && path != filepath.Join(g.ConfigDir, "kn.yaml") && path != filepath.Join(g.StateDir, "networks", ".lock") &&
			path != paths.New("", g.StateDir, "").ReconcileLock() {
			t.Errorf("generate wrote %s", path)
		}
		return nil
	})
}

// TestGenerateSystemdTakesTheLock: while a reconcile holds the state dir's
// lock, generate systemd writes no spec, reservation or unit; it goes on
// once the lock is free.
func TestGenerateSystemdTakesTheLock(t *testing.T) {
	tmp := t.TempDir()
	g := &globalOptions{ConfigDir: filepath.Join(tmp, "etc"), StateDir: filepath.Join(tmp, "state"), RunDir: "/run/berth"}
	hello, err := os.ReadFile("../../units/testdata/hello.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(g.ConfigDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(g.ConfigDir, "hello.yaml"), hello, 0o644); err != nil {
		t.Fatal(err)
	}
	unlock, err := reconciler.Lock(context.Background(), g.StateDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(tmp, "units")
	done := make(chan error, 1)
	go func() {
		done <- runGenerateSystemd(context.Background(), g, &generateOptions{Output: out, Binary: "/bin/true"}, "hello", &bytes.Buffer{})
	}()
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("generate systemd ran while the reconcile lock was held: %v", err)
	default:
	}
	if ents, _ := os.ReadDir(paths.New("", g.StateDir, "").Specs()); len(ents) != 0 {
		t.Fatalf("generate systemd wrote specs under the lock: %v", ents)
	}
	unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(out); len(ents) == 0 {
		t.Fatal("no unit written after the lock was released")
	}
}
