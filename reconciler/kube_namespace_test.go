package reconciler

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-dev/berth/compose"
	"github.com/berth-dev/berth/compose/kube"
	"github.com/berth-dev/berth/compose/model"
	"github.com/berth-dev/berth/units"
)

// TestPlanConfigMapEdit: a ConfigMap in a file of its own is read by the
// pod of another file; editing it recreates that pod's container (and only
// it: not its pod sandbox, not the pod that does not read it), as editing
// the pod would.
func TestPlanConfigMapEdit(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("settings.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: blue\n")
	write("reader.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: reader\nspec:\n  containers:\n  - name: app\n    image: busybox\n"+
		"    env:\n    - name: COLOR\n      valueFrom:\n        configMapKeyRef: {name: settings, key: color}\n")
	write("other.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: other\nspec:\n  containers:\n  - name: app\n    image: busybox\n")
	load := func() []model.Entry {
		t.Helper()
		entries, err := compose.LoadDir(context.Background(), dir, compose.WithKubeLoader(kube.Load))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Err != nil {
				t.Fatal(e.Err)
			}
			if len(e.Project.Warnings) > 0 {
				t.Errorf("%s: warnings %q", e.Name, e.Project.Warnings)
			}
		}
		if len(entries) != 2 {
			t.Fatalf("entries %+v, want reader and other (settings.yaml is data)", entries)
		}
		return entries
	}
	var obs []Observed
	for _, e := range load() {
		obs = append(obs, Observed{Unit: units.PodName(e.Name), Project: e.Name, Service: units.PodService, Hash: units.PodHash(e.Project.Pods[0]), ActiveState: "active"})
		for _, s := range e.Project.Services {
			obs = append(obs, observed(s, "active"))
		}
	}
	if p := MakePlan(load(), obs, nil); p.HasChanges() {
		t.Fatalf("nothing edited: %v", actions(p))
	}

	write("settings.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: green\n")
	p := MakePlan(load(), obs, nil)
	want := map[string]Action{"reader/app": Recreate, "reader/.pod": Keep, "other/app": Keep, "other/.pod": Keep}
	for k, v := range want {
		if got := actions(p)[k]; got != v {
			t.Errorf("%s: %q, want %q (all: %v)", k, got, v, actions(p))
		}
	}
	for _, c := range p.Changes {
		if c.Project+"/"+c.Service == "reader/app" && c.Action.Symbol() != "~" {
			t.Errorf("reader/app shows %q, want ~", c.Action.Symbol())
		}
	}
}
