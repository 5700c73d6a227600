package compose

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/compose/model"
)

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadDirLayouts(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "hello/compose.yaml"), `
services:
  web:
    image: busybox
    command: httpd -f -p ${PORT}
    environment: [A=1]
`)
	write(t, filepath.Join(dir, "hello/compose.override.yaml"), "services:\n  web:\n    environment: [B=2]\n")
	write(t, filepath.Join(dir, "hello/.env"), "PORT=8080\n")
	write(t, filepath.Join(dir, "single.yaml"), "services:\n  app:\n    image: busybox\n    restart: on-failure:3\n")
	write(t, filepath.Join(dir, "pod.yaml"), "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n")
	write(t, filepath.Join(dir, "broken.yaml"), "services:\n  a:\n    image: [unclosed\n")
	write(t, filepath.Join(dir, "berth.yaml"), "insecure_registries: []\n")
	write(t, filepath.Join(dir, ".git/config"), "")

	entries, err := LoadDir(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]model.Entry{}
	for _, e := range entries {
		got[e.Name] = e
	}
	if len(got) != 4 {
		t.Fatalf("want 4 entries (hello, single, pod, broken), got %v", keys(got))
	}
	web := got["hello"].Project.Services[0]
	if strings.Join(web.Command, " ") != "httpd -f -p 8080" {
		t.Errorf("command with .env interpolation: %q", web.Command)
	}
	if web.Environment["A"] != "1" || web.Environment["B"] != "2" {
		t.Errorf("override merge: env %v", web.Environment)
	}
	if r := got["single"].Project.Services[0].Restart; r.Mode != model.RestartOnFailure || r.MaxRetries != 3 {
		t.Errorf("restart: %+v", r)
	}
	if err := got["pod"].Err; err == nil || !strings.Contains(err.Error(), "Kubernetes") {
		t.Errorf("pod: want Kubernetes error, got %v", err)
	}
	if err := got["broken"].Err; err == nil || !strings.Contains(err.Error(), "broken.yaml") || !strings.Contains(err.Error(), "line ") {
		t.Errorf("broken: want file and line in error, got %v", err)
	}
}

func keys(m map[string]model.Entry) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestUnsupportedFieldsWarnWithLine(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "p.yaml")
	write(t, f, "services:\n  web:\n    image: busybox\n    cgroup_parent: x\n    deploy:\n      replicas: 2\nmodels:\n  m: {model: x}\n")
	p, err := LoadProject(context.Background(), "p", f)
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(p.Warnings, "\n")
	for _, want := range []string{f + `:4: service "web": field "cgroup_parent"`, f + `:6: service "web": field "deploy.replicas"`, f + `:7: top-level field "models"`} {
		if !strings.Contains(joined, want) {
			t.Errorf("missing warning %q in:\n%s", want, joined)
		}
	}
}

func TestBuildWithoutDockerfileIsAnError(t *testing.T) {
	f := filepath.Join(t.TempDir(), "p.yaml")
	write(t, f, "services:\n  web:\n    build: .\n")
	_, err := LoadProject(context.Background(), "p", f)
	if err == nil || !strings.Contains(err.Error(), f+`:3: service "web": build.dockerfile`) || !strings.Contains(err.Error(), "Dockerfile") {
		t.Fatalf("want an error naming the file, line, service and Dockerfile, got %v", err)
	}
}

func TestParseRestart(t *testing.T) {
	for in, want := range map[string]model.Restart{
		"": {Mode: model.RestartNo}, "no": {Mode: model.RestartNo}, "always": {Mode: model.RestartAlways},
		"unless-stopped": {Mode: model.RestartUnlessStopped}, "on-failure": {Mode: model.RestartOnFailure},
		"on-failure:5": {Mode: model.RestartOnFailure, MaxRetries: 5},
	} {
		got, err := ParseRestart(in)
		if err != nil || got != want {
			t.Errorf("ParseRestart(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"sometimes", "always:3", "on-failure:x"} {
		if _, err := ParseRestart(bad); err == nil {
			t.Errorf("ParseRestart(%q): want error", bad)
		}
	}
}

func TestHashChangesWithSpec(t *testing.T) {
	a := model.Service{Project: "p", Name: "web", Image: "busybox", Command: []string{"a"}}
	b := a
	b.Command = []string{"b"}
	if a.Hash() == b.Hash() {
		t.Fatal("hash must change when the command changes")
	}
	c := a
	if a.Hash() != c.Hash() {
		t.Fatal("hash must be stable")
	}
}
