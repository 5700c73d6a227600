package reconciler

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/compose/model"
)

// TestOneOffService: the one-off is compose run's container: overrides
// applied, no ports, restarts, health checks or dependencies, runs to
// completion, and the service it copies is left as it was.
func TestOneOffService(t *testing.T) {
	base := &model.Service{Project: "p", Name: "app", Image: "img", Command: []string{"serve"},
		Environment: map[string]string{"A": "1"}, Ports: []model.Port{{HostPort: 80, ContainerPort: 80}},
		Restart: model.Restart{Mode: model.RestartAlways}, Health: &model.Health{Cmd: []string{"true"}},
		DependsOn: map[string]model.Dependency{"db": {Required: true}}}
	svc, err := oneOffService(base, OneOffRequest{ID: "abc123", Args: []string{"migrate"}, Env: []string{"B=2", "A=3"}, User: "1000", Workdir: "/w"})
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case svc.Name != "app-run-abc123", svc.ID() != "p-app-run-abc123":
		t.Errorf("name %s id %s", svc.Name, svc.ID())
	case len(svc.Command) != 1 || svc.Command[0] != "migrate":
		t.Errorf("command %v", svc.Command)
	case svc.Environment["A"] != "3" || svc.Environment["B"] != "2" || svc.User != "1000" || svc.WorkingDir != "/w":
		t.Errorf("overrides: %v %s %s", svc.Environment, svc.User, svc.WorkingDir)
	case svc.Ports != nil || svc.Health != nil || svc.DependsOn != nil || svc.Restart.Mode != model.RestartNo || !svc.Oneshot:
		t.Errorf("one-off keeps the service's long-running traits: %+v", svc)
	}
	if base.Environment["A"] != "1" || len(base.Ports) != 1 || base.Command[0] != "serve" {
		t.Errorf("the service itself changed: %+v", base)
	}
	if _, err := oneOffService(base, OneOffRequest{ID: "x", Env: []string{"NOEQUALS"}}); err == nil {
		t.Error("-e without = accepted")
	}
}

// TestParseBind: run -v takes compose's short bind syntax, a relative
// source against the caller's directory, and refuses the rest clearly.
func TestParseBind(t *testing.T) {
	cwd := t.TempDir()
	if err := os.Mkdir(filepath.Join(cwd, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	for arg, want := range map[string]model.Mount{
		"./data:/d":           {Type: model.MountBind, Source: filepath.Join(cwd, "data"), Target: "/d"},
		"data/../data:/d/:ro": {},
		cwd + ":/x/../y:ro":   {Type: model.MountBind, Source: cwd, Target: "/y", ReadOnly: true},
		"../" + filepath.Base(cwd) + "/data:/d:rw": {Type: model.MountBind, Source: filepath.Join(cwd, "data"), Target: "/d"},
	} {
		got, err := ParseBind(arg, cwd)
		if want.Type == "" {
			if err == nil || !strings.Contains(err.Error(), "not a host path") {
				t.Errorf("%s: %v, want a named volume refused", arg, err)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("%s: %+v %v, want %+v", arg, got, err, want)
		}
	}
	for arg, msg := range map[string]string{
		"./missing:/d":  "no such file",
		"./data:d":      "not absolute",
		"./data:/d:z":   "want SRC:DST",
		"./data":        "want SRC:DST",
		"./data:/d:ro:": "want SRC:DST",
	} {
		if _, err := ParseBind(arg, cwd); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: %v, want an error saying %q", arg, err, msg)
		}
	}
}

// TestOneOffPodCommand: the command given to a one-off of a pod container
// whose `command:` is set replaces that command (the model's entrypoint);
// one without keeps the image's entrypoint, as compose does.
func TestOneOffPodCommand(t *testing.T) {
	base := &model.Service{Project: "web", Name: "side", Pod: "web", Image: "img", Entrypoint: []string{"sh", "-c", "loop"}, Command: []string{"x"}}
	svc, err := oneOffService(base, OneOffRequest{ID: "a", Args: []string{"wget", "-q"}})
	if err != nil || strings.Join(svc.Entrypoint, " ") != "wget -q" || svc.Command != nil {
		t.Errorf("pod container with command: entrypoint %q command %q %v", svc.Entrypoint, svc.Command, err)
	}
	base.Entrypoint = nil
	svc, _ = oneOffService(base, OneOffRequest{ID: "a", Args: []string{"wget"}})
	if svc.Entrypoint != nil || strings.Join(svc.Command, " ") != "wget" {
		t.Errorf("pod container without command: entrypoint %q command %q", svc.Entrypoint, svc.Command)
	}
}

// TestOneOffSecrets: the one-off keeps the service's secret values (a
// Kubernetes Secret's env var, a secret file), which its unit passes as
// credentials; the service's JSON leaves them out.
func TestOneOffSecrets(t *testing.T) {
	base := &model.Service{Project: "web", Name: "main", Image: "img",
		SecretEnv: []model.SecretEnvVar{model.NewSecretEnvVar("PASSWORD", "s3cr3t")},
		Files:     []model.FileMount{{Secret: true, Credential: true, Name: "pw", Target: "/run/secrets/pw", Content: []byte("hunter2")}}}
	svc, err := oneOffService(base, OneOffRequest{ID: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if svc.SecretEnv[0].Value != "s3cr3t" || string(svc.Files[0].Content) != "hunter2" {
		t.Errorf("secrets lost: env %q file %q", svc.SecretEnv[0].Value, svc.Files[0].Content)
	}
	for _, c := range svc.Credentials() {
		if !c.Present {
			t.Errorf("credential %s has no content", c.What)
		}
	}
}
