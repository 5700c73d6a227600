package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/compose/model"
	"github.com/berth-dev/berth/reconciler"
)

// buildTestProject copies examples/buildapp into a fresh config dir.
func buildTestProject(t *testing.T) *globalOptions {
	t.Helper()
	g := kubeTestDirs(t, nil)
	dir := filepath.Join(g.ConfigDir, "buildapp")
	if err := os.CopyFS(dir, os.DirFS("../../examples/buildapp")); err != nil {
		t.Fatal(err)
	}
	return g
}

func TestGenerateKubeWarnsAboutBuiltImages(t *testing.T) {
	g := buildTestProject(t)
	var stdout, stderr bytes.Buffer
	if err := runGenerateKube(context.Background(), g, &generateKubeOptions{Type: "deployment"}, "buildapp", &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "image: localhost/buildapp-app:latest") {
		t.Errorf("the YAML does not name the local image:\n%s", stdout.String())
	}
	if want := "warning: service app runs image localhost/buildapp-app:latest, built locally"; !strings.Contains(stderr.String(), want) {
		t.Errorf("warnings lack %q:\n%s", want, stderr.String())
	}
	if strings.Contains(stderr.String(), "service cache runs image") {
		t.Errorf("a pulled image is warned about:\n%s", stderr.String())
	}
}

func TestBuildTargets(t *testing.T) {
	g := buildTestProject(t)
	entries, err := loadConfigDir(context.Background(), g.ConfigDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{nil, {"buildapp"}, {"buildapp/app"}} {
		svcs, err := buildTargets(entries, args)
		if err != nil || len(svcs) != 1 || svcs[0].Name != "app" {
			t.Errorf("buildTargets(%q) = %v, %v; want app", args, svcs, err)
		}
	}
	for args, want := range map[string]string{"buildapp/cache": "has no build: section", "nope": `no project or service "nope"`} {
		if _, err := buildTargets(entries, []string{args}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("buildTargets(%q) = %v; want %q", args, err, want)
		}
	}
}

func TestPlanSaysRebuild(t *testing.T) {
	svc := &model.Service{Build: &model.Build{}}
	for _, c := range []struct {
		change reconciler.Change
		want   string
	}{
		{reconciler.Change{Action: reconciler.Recreate, Desired: svc, Fields: []string{"build"}}, "rebuild+recreate"},
		{reconciler.Change{Action: reconciler.Recreate, Desired: svc, Fields: []string{"environment"}}, "recreate"},
		{reconciler.Change{Action: reconciler.Create, Desired: svc}, "create"},
	} {
		if got := actionLabel(c.change); got != c.want {
			t.Errorf("actionLabel(%v %v) = %q, want %q", c.change.Action, c.change.Fields, got, c.want)
		}
	}
}

// TestBuildWithoutBuildahNamesThePackage: with no buildah installed, the
// service's build fails naming the Debian package, before any unit starts.
func TestBuildWithoutBuildahNamesThePackage(t *testing.T) {
	g := buildTestProject(t)
	entries, err := loadConfigDir(context.Background(), g.ConfigDir)
	if err != nil {
		t.Fatal(err)
	}
	svcs, err := buildTargets(entries, []string{"buildapp/app"})
	if err != nil {
		t.Fatal(err)
	}
	store, err := imageStore(g)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", t.TempDir())
	b := &builder{g: g, store: store, log: g.logger()} // no manager: nothing may start
	err = b.Build(context.Background(), svcs[0])
	if err == nil || !strings.Contains(err.Error(), "install Debian package buildah") {
		t.Fatalf("Build without buildah = %v", err)
	}
}
