package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// kubeTestDirs makes a config dir holding the given files.
func kubeTestDirs(t *testing.T, files map[string]string) *globalOptions {
	t.Helper()
	tmp := t.TempDir()
	g := &globalOptions{ConfigDir: filepath.Join(tmp, "etc"), StateDir: filepath.Join(tmp, "state"), RunDir: "/run/berth"}
	if err := os.MkdirAll(g.ConfigDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, src := range files {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(g.ConfigDir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return g
}

// TestGenerateSystemdPod: a Pod's unit files include the pod unit, and
// systemd's validator accepts the set (BindsTo= finds the pod unit).
func TestGenerateSystemdPod(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Fatal("systemd-analyze is required (apt-get install systemd)")
	}
	g := kubeTestDirs(t, map[string]string{"web.yaml": "../../examples/kube/web.yaml"})
	out := filepath.Join(t.TempDir(), "units")
	var printed bytes.Buffer
	if err := runGenerateSystemd(context.Background(), g, &generateOptions{Output: out, Binary: "/bin/true"}, "web", &printed); err != nil {
		t.Fatal(err)
	}
	paths := strings.Fields(printed.String())
	var unitPaths []string
	for _, p := range paths {
		if strings.HasPrefix(p, "/") {
			unitPaths = append(unitPaths, p)
		}
	}
	if !strings.Contains(printed.String(), "berth-web.pod.service") {
		t.Fatalf("no pod unit written:\n%s", printed.String())
	}
	httpd, err := os.ReadFile(filepath.Join(out, "berth-web-httpd.service"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"BindsTo=berth-web.pod.service", "After=berth-web.pod.service"} {
		if !strings.Contains(string(httpd), want) {
			t.Errorf("container unit lacks %s:\n%s", want, httpd)
		}
	}
	args := append([]string{"verify", "--man=no"}, unitPaths...)
	if b, err := exec.Command("systemd-analyze", args...).CombinedOutput(); err != nil || len(b) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, b)
	}
}

// TestGenerateSystemdSeveralPods (issue 17): a file of several workloads
// writes one pod unit per pod, each container bound to its own pod's unit,
// and systemd's validator accepts the set.
func TestGenerateSystemdSeveralPods(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Fatal("systemd-analyze is required (apt-get install systemd)")
	}
	g := kubeTestDirs(t, map[string]string{"shop.yaml": "../../examples/kube/shop.yaml"})
	out := filepath.Join(t.TempDir(), "units")
	var printed bytes.Buffer
	if err := runGenerateSystemd(context.Background(), g, &generateOptions{Output: out, Binary: "/bin/true"}, "shop", &printed); err != nil {
		t.Fatal(err)
	}
	var unitPaths []string
	for _, p := range strings.Fields(printed.String()) {
		if strings.HasPrefix(p, "/") {
			unitPaths = append(unitPaths, p)
		}
	}
	for unit, pod := range map[string]string{
		`berth-shop-storefront\x2dapp.service`: "berth-shop.storefront.pod.service",
		`berth-shop-orders\x2dapp.service`:     "berth-shop.orders.pod.service",
	} {
		b, err := os.ReadFile(filepath.Join(out, unit))
		if err != nil {
			t.Fatalf("%v (written: %s)", err, printed.String())
		}
		if !strings.Contains(string(b), "BindsTo="+pod+"\n") || strings.Count(string(b), "BindsTo=") != 1 {
			t.Errorf("%s is not bound to %s alone:\n%s", unit, pod, b)
		}
		if _, err := os.Stat(filepath.Join(out, pod)); err != nil {
			t.Errorf("pod unit %s not written: %v", pod, err)
		}
	}
	args := append([]string{"verify", "--man=no"}, unitPaths...)
	if b, err := exec.Command("systemd-analyze", args...).CombinedOutput(); err != nil || len(b) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, b)
	}
}

// TestGenerateKubeCLI: generate kube of a compose project, dropped back into
// the config dir, loads as a pod running the same images and commands.
func TestGenerateKubeCLI(t *testing.T) {
	g := kubeTestDirs(t, map[string]string{"hello.yaml": "../../units/testdata/hello.yaml"})
	o := &generateKubeOptions{Type: "pod", Service: true, Output: filepath.Join(g.ConfigDir, "hello-pod.yaml")}
	var stdout, stderr bytes.Buffer
	if err := runGenerateKube(context.Background(), g, o, "hello", &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	t.Logf("warnings:\n%s", stderr.String())
	orig, err := loadProject(context.Background(), g.ConfigDir, "hello")
	if err != nil {
		t.Fatal(err)
	}
	back, err := loadProject(context.Background(), g.ConfigDir, "hello-pod")
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Pods) == 0 || len(back.Services) != len(orig.Services) {
		t.Fatalf("loaded back %d services, pods %v; want %d", len(back.Services), back.Pods, len(orig.Services))
	}
	for i := range orig.Services {
		a, b := orig.Services[i], back.Services[i]
		if a.Image != b.Image || strings.Join(a.Command, " ") != strings.Join(b.Command, " ") ||
			strings.Join(a.Entrypoint, " ") != strings.Join(b.Entrypoint, " ") || a.Resources.MemoryMax != b.Resources.MemoryMax {
			t.Errorf("service %s: %+v\nback as %+v", a.Name, a, b)
		}
	}
	err = runGenerateKube(context.Background(), g, &generateKubeOptions{Type: "replicaset"}, "hello", &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "valid: deployment, pod") {
		t.Errorf("bad --type: %v", err)
	}
}
