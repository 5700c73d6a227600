package kube

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/berth-dev/berth/compose/model"

	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/berth-dev/berth/compose"
)

// strictDecode decodes every document of generated YAML into the k8s.io/api
// type of its kind, refusing unknown fields, and returns the kinds.
func strictDecode(t *testing.T, b []byte) []string {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var kinds []string
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		one, err := yaml.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		var obj any
		switch k := doc["kind"]; k {
		case "Pod":
			obj = &corev1.Pod{}
		case "Deployment":
			obj = &appsv1.Deployment{}
		case "Job":
			obj = &batchv1.Job{}
		case "ConfigMap":
			obj = &corev1.ConfigMap{}
		case "Secret":
			obj = &corev1.Secret{}
		case "PersistentVolumeClaim":
			obj = &corev1.PersistentVolumeClaim{}
		case "Service":
			obj = &corev1.Service{}
		default:
			t.Fatalf("unexpected kind %v", k)
		}
		if err := sigsyaml.UnmarshalStrict(one, obj); err != nil {
			t.Fatalf("%s does not decode strictly with k8s.io/api: %v\n%s", doc["kind"], err, one)
		}
		kinds = append(kinds, doc["kind"].(string))
	}
	return kinds
}

func loadApp(t *testing.T) *model.Project {
	t.Helper()
	p, err := compose.LoadProject(context.Background(), "app", "testdata/compose/app.yml")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestGenerateStrict: both output types, with Services, decode strictly
// with the Kubernetes API types and hold the expected objects.
func TestGenerateStrict(t *testing.T) {
	p := loadApp(t)
	for _, c := range []struct {
		opts  GenerateOptions
		kinds []string
	}{
		{GenerateOptions{Type: TypeDeployment, Service: true},
			[]string{"ConfigMap", "Secret", "PersistentVolumeClaim", "Deployment", "Deployment", "Service"}},
		{GenerateOptions{Type: TypePod},
			[]string{"ConfigMap", "Secret", "PersistentVolumeClaim", "Pod"}},
	} {
		b, warns, err := Generate(p, c.opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s warnings: %q", c.opts.Type, warns)
		if kinds := strictDecode(t, b); !slices.Equal(kinds, c.kinds) {
			t.Errorf("%s: kinds %v, want %v\n%s", c.opts.Type, kinds, c.kinds, b)
		}
	}
}

// TestGenerateRoundTrip: a compose project written as a Pod and read back
// through the Kubernetes loader runs the same containers: image, command,
// env, mounts, files, ports and limits.
func TestGenerateRoundTrip(t *testing.T) {
	p := loadApp(t)
	b, _, err := Generate(p, GenerateOptions{Type: TypePod})
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse("app", "app.yaml", b)
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if len(back.Warnings) > 0 {
		t.Errorf("warnings reading generated YAML: %q", back.Warnings)
	}
	if len(back.Services) != len(p.Services) {
		t.Fatalf("%d services back, want %d", len(back.Services), len(p.Services))
	}
	for i := range p.Services {
		want, got := p.Services[i], back.Services[i]
		if d := equivalent(&want, &got); d != "" {
			t.Errorf("service %s differs after the round trip: %s\n%s", want.Name, d, b)
		}
	}
	if len(back.Pods) != 1 || back.Pods[0].Name != "app" {
		t.Errorf("pods %+v", back.Pods)
	}
}

// TestGenerateRoundTripDeployment: a one-service project goes through a
// Deployment the same way.
func TestGenerateRoundTripDeployment(t *testing.T) {
	p := loadApp(t)
	p.Services = p.Services[:1]
	b, _, err := Generate(p, GenerateOptions{Type: TypeDeployment})
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse("app", "app.yaml", b)
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if d := equivalent(&p.Services[0], &back.Services[0]); d != "" {
		t.Errorf("differs after the round trip: %s\n%s", d, b)
	}
	if a, b := p.Services[0].StopGracePeriod, back.Services[0].StopGracePeriod; a != b {
		t.Errorf("stop grace period %v, back %v", a, b)
	}
}

// equivalent compares what makes the container run the same.
func equivalent(a, b *model.Service) string {
	var diffs []string
	check := func(what string, x, y any) {
		if fmt.Sprint(x) != fmt.Sprint(y) {
			diffs = append(diffs, fmt.Sprintf("%s: %v != %v", what, x, y))
		}
	}
	check("image", a.Image, b.Image)
	check("entrypoint", a.Entrypoint, b.Entrypoint)
	check("command", a.Command, b.Command)
	check("environment", a.Environment, b.Environment)
	check("user", a.User, b.User)
	check("ports", a.Ports, b.Ports)
	check("limits", [3]any{a.Resources.CPUs, a.Resources.MemoryMax, a.Resources.MemoryReservation},
		[3]any{b.Resources.CPUs, b.Resources.MemoryMax, b.Resources.MemoryReservation})
	check("read_only", a.ReadOnly, b.ReadOnly)
	check("cap_drop", a.Security.CapDrop, b.Security.CapDrop)
	mounts := func(s *model.Service) []string {
		var out []string
		for _, m := range s.Mounts {
			out = append(out, fmt.Sprintf("%s %s->%s ro=%v sub=%s size=%d", m.Type, m.Source, m.Target, m.ReadOnly, m.SubPath, m.Size))
		}
		slices.Sort(out)
		return out
	}
	check("mounts", mounts(a), mounts(b))
	files := func(s *model.Service) []string {
		var out []string
		for _, f := range s.Files {
			mode := f.Mode
			if mode == 0 {
				mode = defaultFileMode
			}
			out = append(out, fmt.Sprintf("secret=%v %s %q %#o", f.Secret, f.Target, f.Content, mode))
		}
		slices.Sort(out)
		return out
	}
	check("files", files(a), files(b))
	if (a.Health == nil) != (b.Health == nil) || a.Health != nil && (fmt.Sprint(a.Health.Cmd) != fmt.Sprint(b.Health.Cmd) || a.Health.Interval != b.Health.Interval) {
		diffs = append(diffs, fmt.Sprintf("health: %+v != %+v", a.Health, b.Health))
	}
	return strings.Join(diffs, "; ")
}

// TestGenerateSeveralPods (issue 17): a file of several workloads is
// written back as one Pod per pod, with the containers' own names, and
// loads back as the same project: load → generate → load is stable.
func TestGenerateSeveralPods(t *testing.T) {
	in, err := os.ReadFile("testdata/several-list.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse("shop", "shop.yaml", in)
	if err != nil {
		t.Fatal(err)
	}
	b, warns, err := Generate(p, GenerateOptions{Type: TypePod})
	if err != nil || len(warns) > 0 {
		t.Fatalf("generate: %v %q", err, warns)
	}
	for _, want := range []string{"kind: Pod\nmetadata:\n  name: web\n", "kind: Pod\nmetadata:\n  name: cache\n", "- name: app\n", "- name: prepare\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("generated YAML lacks %q:\n%s", want, b)
		}
	}
	back, err := Parse("shop", "shop.yaml", b)
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if len(back.Pods) != 2 || back.Pods[0].Name != "web" || back.Pods[1].Name != "cache" || back.Pods[1].Hostname != "kv" {
		t.Fatalf("pods back %+v", back.Pods)
	}
	if len(back.Services) != len(p.Services) {
		t.Fatalf("%d services back, want %d", len(back.Services), len(p.Services))
	}
	for i := range p.Services {
		want, got := p.Services[i], back.Services[i]
		if d := equivalent(&want, &got); got.Name != want.Name || got.Pod != want.Pod || got.PodID != want.PodID || got.Hostname != want.Hostname || d != "" {
			t.Errorf("service %s came back as %s (pod %s): %s", want.Name, got.Name, got.Pod, d)
		}
	}
	again, _, err := Generate(back, GenerateOptions{Type: TypePod})
	if err != nil || string(again) != string(b) {
		t.Errorf("second generate differs (%v):\n%s\nfirst:\n%s", err, again, b)
	}
	// As Deployments, each pod is one Deployment.
	d, _, err := Generate(p, GenerateOptions{Type: TypeDeployment, Service: true})
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(d), "kind: Deployment\n"); n != 2 {
		t.Errorf("%d Deployments, want 2:\n%s", n, d)
	}
	if !strings.Contains(string(d), "kind: Service\nmetadata:\n  name: web\n") {
		t.Errorf("no Service for web's hostPort:\n%s", d)
	}
	d, _, _ = Generate(p, GenerateOptions{Type: TypeDeployment})
	if back, err := Parse("shop", "shop.yaml", d); err != nil || len(back.Pods) != 2 || len(back.Services) != 3 {
		t.Errorf("Deployments load back as %v, %v", back, err)
	}
}
