package compose

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestLoadEntryAsLoadDir: one entry loaded on its own is the entry LoadDir
// makes of it, and what is no entry is an error naming the path.
func TestLoadEntryAsLoadDir(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("App-One/compose.yaml", "services:\n  a:\n    image: busybox\n    volumes: [./conf:/conf:ro]\n")
	write("App-One/conf", "x\n")
	write("two.yaml", "name: second\nservices:\n  b:\n    image: busybox\n")
	write("berth.yaml", "profiles: []\n")
	ctx := context.Background()
	all, err := LoadDir(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range all {
		got := LoadEntry(ctx, want.Path)
		if got.Err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("LoadEntry(%s) = %+v (err %v), LoadDir made %+v", want.Path, got.Project, got.Err, want.Project)
		}
	}
	if names := []string{all[0].Name, all[1].Name}; !reflect.DeepEqual(names, []string{"app-one", "second"}) {
		t.Errorf("names %v", names)
	}
	// The entry's parent is its config root: the bind gets a content hash.
	if all[0].Project == nil || all[0].Project.Services[0].Mounts[0].ContentHash == "" {
		t.Errorf("bind under the config root has no content hash: %+v", all[0].Project)
	}
	bad := filepath.Join(dir, "berth.yaml")
	if e := LoadEntry(ctx, bad); e.Err == nil || !strings.Contains(e.Err.Error(), bad+": not a project") {
		t.Errorf("LoadEntry(berth.yaml) = %v, want not a project", e.Err)
	}
	if e := LoadEntry(ctx, filepath.Join(dir, "missing")); e.Err == nil {
		t.Error("LoadEntry of a missing path loaded")
	}
}
