package runtime

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth-dev/berth/compose/model"
)

func TestCommandLineFollowsDockerRules(t *testing.T) {
	img := v1.Config{Entrypoint: []string{"/entry"}, Cmd: []string{"serve", "--port=80"}}
	tests := []struct {
		name       string
		entrypoint []string
		command    []string
		img        v1.Config
		want       []string
		wantErr    bool
	}{
		{name: "image defaults", img: img, want: []string{"/entry", "serve", "--port=80"}},
		{name: "command replaces image cmd", command: []string{"debug"}, img: img, want: []string{"/entry", "debug"}},
		{name: "entrypoint drops image cmd", entrypoint: []string{"/other"}, img: img, want: []string{"/other"}},
		{name: "entrypoint and command", entrypoint: []string{"/other"}, command: []string{"x"}, img: img, want: []string{"/other", "x"}},
		{name: "empty entrypoint clears it", entrypoint: []string{}, command: []string{"sh"}, img: img, want: []string{"sh"}},
		{name: "empty entrypoint without command runs nothing", entrypoint: []string{}, img: img, wantErr: true},
		{name: "empty command keeps entrypoint only", command: []string{}, img: img, want: []string{"/entry"}},
		{name: "cmd-only image", img: v1.Config{Cmd: []string{"sh"}}, want: []string{"sh"}},
		{name: "nothing at all", img: v1.Config{}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := &model.Service{Entrypoint: tt.entrypoint, Command: tt.command}
			got, err := commandLine(svc, tt.img)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("commandLine = %q, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("commandLine = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEnvironmentOverlaysImageSorted(t *testing.T) {
	tests := []struct {
		name string
		img  []string
		svc  map[string]string
		home string
		want []string
	}{
		{
			name: "service overrides image, defaults added",
			img:  []string{"PATH=/app/bin", "B=image", "A=image"},
			svc:  map[string]string{"B": "svc", "C": "x=y"},
			home: "/root",
			want: []string{"A=image", "B=svc", "C=x=y", "HOME=/root", "HOSTNAME=web", "PATH=/app/bin"},
		},
		{
			name: "default PATH, HOME kept from service",
			svc:  map[string]string{"HOME": "/data", "EMPTY": ""},
			home: "/root",
			want: []string{"EMPTY=", "HOME=/data", "HOSTNAME=web", "PATH=" + defaultPath},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := environment(tt.img, tt.svc, "web", tt.home)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("environment = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWorkingDirPrecedence(t *testing.T) {
	if got := workingDir(&model.Service{WorkingDir: "/svc"}, v1.Config{WorkingDir: "/img"}); got != "/svc" {
		t.Fatalf("service working dir: got %q", got)
	}
	if got := workingDir(&model.Service{}, v1.Config{WorkingDir: "/img"}); got != "/img" {
		t.Fatalf("image working dir: got %q", got)
	}
	if got := workingDir(&model.Service{}, v1.Config{}); got != "/" {
		t.Fatalf("default working dir: got %q", got)
	}
}

func TestResolveUserAgainstRootfs(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:app:/home/app:/bin/sh\n")
	writeFile(t, filepath.Join(root, "etc/group"), "root:x:0:\napp:x:1001:\nextra:x:2000:app\nother:x:3000:\n")
	tests := []struct {
		spec    string
		uid     int
		gid     int
		sgids   []int
		home    string
		wantErr bool
	}{
		{spec: "", uid: 0, gid: 0, home: "/root"},
		{spec: "app", uid: 1000, gid: 1001, sgids: []int{2000}, home: "/home/app"},
		{spec: "app:other", uid: 1000, gid: 3000, home: "/home/app"},
		{spec: "1000", uid: 1000, gid: 1001, sgids: []int{2000}, home: "/home/app"},
		{spec: "4242:4343", uid: 4242, gid: 4343, home: "/"},
		{spec: "4242", uid: 4242, gid: 0, home: "/"},
		{spec: "nobody-here", wantErr: true},
		{spec: "app:nogroup", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			u, err := resolveUser(root, tt.spec)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("resolveUser(%q) = %+v, want an error", tt.spec, u)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if u.Uid != tt.uid || u.Gid != tt.gid || u.Home != tt.home || !slices.Equal(u.Sgids, tt.sgids) {
				t.Fatalf("resolveUser(%q) = %+v, want uid %d gid %d sgids %v home %s", tt.spec, u, tt.uid, tt.gid, tt.sgids, tt.home)
			}
		})
	}
}

func TestUserSpecPrefersService(t *testing.T) {
	if got := userSpec(&model.Service{User: "svc"}, v1.Config{User: "img"}); got != "svc" {
		t.Fatalf("got %q", got)
	}
	if got := userSpec(&model.Service{}, v1.Config{User: "img"}); got != "img" {
		t.Fatalf("got %q", got)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
