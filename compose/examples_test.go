package compose

import (
	"context"
	"strings"
	"testing"

	"github.com/berth-dev/berth/compose/model"
)

// exampleWarnings are the warnings an example is allowed to produce, by
// project; every other warning fails the test.
var exampleWarnings = map[string][]string{}

// TestExamplesLoad keeps every bundled example loadable, with no warnings
// but the ones listed in exampleWarnings.
func TestExamplesLoad(t *testing.T) {
	entries, err := LoadDir(context.Background(), "../examples")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 {
		t.Fatal("no examples found")
	}
	for _, e := range entries {
		if e.Name == "kube" {
			continue // Kubernetes manifests, one project per file: compose/kube's TestExamples
		}
		if e.Err != nil {
			t.Errorf("%s: %v", e.Name, e.Err)
			continue
		}
		want := strings.Join(exampleWarnings[e.Name], "\n")
		if got := strings.Join(e.Project.Warnings, "\n"); got != want {
			t.Errorf("%s: warnings\n%s\nwant\n%s", e.Name, got, want)
		}
	}
}

// TestExampleWebapp checks what the webapp example promises in its header.
func TestExampleWebapp(t *testing.T) {
	p, err := LoadProject(context.Background(), "webapp", "../examples/webapp", WithConfigRoot("../examples"))
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	svc := map[string]model.Service{}
	for _, s := range p.Services {
		order = append(order, s.Name)
		svc[s.Name] = s
	}
	if got := strings.Join(order, " "); got != "db migrate web worker" {
		t.Errorf("dependency order %q, want db migrate web worker", got)
	}
	if !svc["migrate"].Oneshot {
		t.Error("migrate must be a oneshot (worker waits for it to complete)")
	}
	if svc["db"].Health == nil || svc["db"].Notify != model.NotifyHealthy {
		t.Errorf("db: want a healthcheck gating readiness, got health %+v notify %q", svc["db"].Health, svc["db"].Notify)
	}
	if m := svc["db"].Mounts; len(m) != 1 || m[0].Type != model.MountVolume || m[0].Source != "webapp_dbdata" {
		t.Errorf("db mounts %+v, want the named volume webapp_dbdata", m)
	}
	for _, m := range svc["web"].Mounts {
		if m.Type != model.MountBind || !m.ReadOnly || !strings.HasPrefix(m.ContentHash, "sha256:") {
			t.Errorf("web mount %+v: want a read-only bind with a content hash", m)
		}
	}
	if ports := svc["web"].Ports; len(ports) != 1 || ports[0].HostIP != "127.0.0.1" || ports[0].ContainerPort != 8080 {
		t.Errorf("web ports %+v", ports)
	}
	f := svc["worker"].Files
	if len(f) != 1 || !f[0].Secret || f[0].Target != "/run/secrets/db_password" || f[0].Mode != 0o444 || string(f[0].Content) != "example-password\n" {
		t.Errorf("worker secret %+v", f)
	}
	if d := svc["worker"].DependsOn["migrate"]; d.Condition != model.ConditionCompleted {
		t.Errorf("worker depends_on migrate: %+v", d)
	}
}
