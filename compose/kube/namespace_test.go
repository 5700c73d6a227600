package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berth-dev/berth/compose"
	"github.com/berth-dev/berth/compose/model"
)

// TestNamespaceGolden loads testdata/namespace as a config dir: its Pods
// read ConfigMaps, Secrets and a claim declared in other files, the files
// holding only those are data (no project, no warning), and each project
// is compared with testdata/namespace-golden/<project>.golden.json (-update
// rewrites them).
func TestNamespaceGolden(t *testing.T) {
	entries, err := compose.LoadDir(context.Background(), "testdata/namespace", compose.WithKubeLoader(Load))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name)
	}
	want := []string{"db-client", "downward-env", "downward-volume", "listed", "settings-volume", "shared-volume", "shop-envfrom", "uploads-pod", "with-init"}
	if !slices.Equal(names, want) {
		t.Fatalf("projects %q, want %q (the shop-* data files are no projects)", names, want)
	}
	for _, e := range entries {
		t.Run(e.Name, func(t *testing.T) {
			if e.Err != nil {
				t.Fatal(e.Err)
			}
			checkGolden(t, e.Project, filepath.Join("testdata", "namespace-golden", e.Name+".golden.json"))
		})
	}
}

// checkGolden compares p (without machine-specific paths) with file.
func checkGolden(t *testing.T, p *model.Project, file string) {
	t.Helper()
	p.Dir, p.Files = "", nil
	pj, err := json.MarshalIndent(p, "  ", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(golden{Warnings: p.Warnings, Project: pj}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if *update {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test ./compose/kube -update)", err)
	}
	if string(got) != string(want) {
		t.Errorf("differs from %s:\n%s", file, got)
	}
}

// TestDownwardResources: resourceFieldRef rounds up to whole divisors as
// the kubelet does; an unset request is the limit, and 0 without one.
func TestDownwardResources(t *testing.T) {
	cases := []struct {
		limits, requests map[string]string
		resource, div    string
		want             string
	}{
		{map[string]string{"cpu": "250m"}, nil, "limits.cpu", "", "1"},
		{map[string]string{"cpu": "250m"}, nil, "limits.cpu", "1m", "250"},
		{map[string]string{"cpu": "1.5"}, nil, "limits.cpu", "", "2"},
		{map[string]string{"cpu": "2"}, nil, "limits.cpu", "", "2"},
		{map[string]string{"cpu": "1500m"}, nil, "limits.cpu", "100m", "15"},
		{map[string]string{"cpu": "250m"}, nil, "requests.cpu", "1m", "250"},
		{nil, map[string]string{"cpu": "0.1"}, "requests.cpu", "1m", "100"},
		{nil, nil, "requests.cpu", "", "0"},
		{nil, nil, "requests.memory", "", "0"},
		{map[string]string{"memory": "64Mi"}, nil, "limits.memory", "1Mi", "64"},
		{map[string]string{"memory": "100M"}, nil, "limits.memory", "1Mi", "96"},
		{map[string]string{"memory": "100M"}, nil, "limits.memory", "", "100000000"},
		{map[string]string{"memory": "1Gi"}, map[string]string{"memory": "1G"}, "requests.memory", "1Mi", "954"},
		{map[string]string{"ephemeral-storage": "2Gi"}, nil, "limits.ephemeral-storage", "1Gi", "2"},
	}
	for _, c := range cases {
		o := &objects{workload: &document{file: "f.yaml", meta: TypeMeta{Kind: "Pod"}, name: "p"}}
		ctr := &Container{Name: "c", Resources: &ResourceRequirements{Limits: c.limits, Requests: c.requests}}
		got, err := o.resourceField(ctr, &ResourceFieldRef{Resource: c.resource, Divisor: c.div}, "x")
		if err != nil || got != c.want {
			t.Errorf("%s/%s of limits %v requests %v = %q, %v; want %q", c.resource, c.div, c.limits, c.requests, got, err, c.want)
		}
	}
	// No limit: the host's capacity, as the node's allocatable.
	o := &objects{workload: &document{file: "f.yaml", meta: TypeMeta{Kind: "Pod"}, name: "p"}}
	got, err := o.resourceField(&Container{Name: "c"}, &ResourceFieldRef{Resource: "limits.memory", Divisor: "1Ki"}, "x")
	if err != nil {
		t.Fatal(err)
	}
	mem, _ := os.ReadFile("/proc/meminfo")
	if !strings.Contains(strings.Join(strings.Fields(string(mem)), " "), "MemTotal: "+got+" kB") {
		t.Errorf("limits.memory without a limit = %s KiB, not the host's MemTotal", got)
	}
}

// TestPodUID: metadata.uid is a UUID that stays the same across loads, so
// the spec hash does too, and differs between pods and projects.
func TestPodUID(t *testing.T) {
	uid := func(project, pod string) string {
		o := &objects{project: project}
		o.pod.Metadata.Name = pod
		return o.podUID()
	}
	a := uid("shop", "web")
	if a != uid("shop", "web") || a == uid("shop", "db") || a == uid("other", "web") {
		t.Errorf("uids not stable per project/pod: %s", a)
	}
	if len(a) != 36 || a[14] != '5' || strings.Count(a, "-") != 4 {
		t.Errorf("uid %q is not a version-5 style UUID", a)
	}
}

// TestNamespaceDir: a subdirectory of the config dir holding Kubernetes
// files (and no compose file) is one namespace and one project, named
// after it; a reference found nowhere names where berth looked and the
// files it could not read; a broken data file is an error of its own.
func TestNamespaceDir(t *testing.T) {
	cfg := t.TempDir()
	write := func(rel, content string) {
		t.Helper()
		p := filepath.Join(cfg, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const podUsing = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: busybox\n    envFrom:\n    - configMapRef: {name: %s}\n"
	write("Shop/config.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shop\ndata:\n  A: a-from-the-subdir\n")
	write("Shop/pod.yaml", fmt.Sprintf(podUsing, "shop"))
	write("top.yaml", fmt.Sprintf(podUsing, "nowhere"))
	write("broken-data.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  k: v\n  k: w\n")
	entries, err := compose.LoadDir(context.Background(), cfg, compose.WithKubeLoader(Load))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]model.Entry{}
	for _, e := range entries {
		got[e.Name] = e
	}
	if len(got) != 3 {
		t.Fatalf("entries %q, want broken-data, shop, top", keysOf(got))
	}
	if e := got["shop"]; e.Err != nil || e.Project == nil || e.Project.Services[0].Environment["A"] != "a-from-the-subdir" || len(e.Project.Files) != 2 {
		t.Errorf("subdirectory project: %+v", e)
	}
	wantTop := `top.yaml:10: Pod p: spec.containers[0].envFrom[0].configMapRef.name: no ConfigMap "nowhere" in this file or the other files of ` + cfg +
		` (some failed to load: ` + filepath.Join(cfg, "broken-data.yaml") + `:7: ConfigMap x: mapping key "k" already defined at line 6)`
	if e := got["top"]; e.Err == nil || !strings.HasSuffix(e.Err.Error(), wantTop) {
		t.Errorf("top: %v\nwant it to end with %s", e.Err, wantTop)
	}
	if e := got["broken-data"]; e.Err == nil || !strings.Contains(e.Err.Error(), `broken-data.yaml:7: ConfigMap x: mapping key "k" already defined at line 6`) {
		t.Errorf("broken data file: %v", e.Err)
	}
}

func keysOf[V any](m map[string]V) []string { return sortedKeys(m) }
