package image

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

func writeAuthFile(t *testing.T, path, host, user, pass string, mode os.FileMode) {
	t.Helper()
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	if err := os.WriteFile(path, fmt.Appendf(nil, `{"auths": {%q: {"auth": %q}}}`, host, auth), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // past the umask
		t.Fatal(err)
	}
}

// TestCredentialChainPrefersAuthFile: <config>/auth.json wins over docker's
// config.json for the same registry; docker's answers for the others.
func TestCredentialChainPrefersAuthFile(t *testing.T) {
	isolateCredentialEnv(t)
	dockerDir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dockerDir)
	writeAuthFile(t, filepath.Join(dockerDir, "config.json"), "reg.example:5000", "docker-user", "docker-pass", 0o600)
	authFile := filepath.Join(t.TempDir(), "auth.json")
	writeAuthFile(t, authFile, "private.example", "berth-user", "berth-pass", 0o600)
	chain := CredentialChain(authFile, nil)

	for host, want := range map[string]string{"private.example": "berth-user", "reg.example:5000": "docker-user"} {
		r, err := name.ParseReference(host + "/app:1")
		if err != nil {
			t.Fatal(err)
		}
		a, err := authn.Resolve(context.Background(), chain, r.Context())
		if err != nil {
			t.Fatalf("%s: %v", host, err)
		}
		cfg, err := a.Authorization()
		if err != nil || cfg.Username != want {
			t.Errorf("%s: user %q (%v), want %q", host, cfg.Username, err, want)
		}
	}
	// Same registry in both: auth.json first.
	writeAuthFile(t, filepath.Join(dockerDir, "config.json"), "private.example", "docker-user", "docker-pass", 0o600)
	a, _ := authn.Resolve(context.Background(), CredentialChain(authFile, nil), name.MustParseReference("private.example/app").Context())
	if cfg, _ := a.Authorization(); cfg.Username != "berth-user" {
		t.Errorf("private.example in both files: user %q, want auth.json's berth-user", cfg.Username)
	}
}

// TestCredentialChainWarnsAboutOpenAuthFile: a group- or world-readable
// auth.json is named with its mode, once, and never with its contents.
func TestCredentialChainWarnsAboutOpenAuthFile(t *testing.T) {
	isolateCredentialEnv(t)
	for _, tc := range []struct {
		mode os.FileMode
		warn bool
	}{{0o600, false}, {0o400, false}, {0o640, true}, {0o604, true}} {
		authFile := filepath.Join(t.TempDir(), "auth.json")
		writeAuthFile(t, authFile, "private.example", "berth-user", "s3cret-pass", tc.mode)
		var buf bytes.Buffer
		chain := CredentialChain(authFile, slog.New(slog.NewTextHandler(&buf, nil)))
		for range 2 {
			if _, err := chain.Resolve(name.MustParseReference("private.example/app").Context()); err != nil {
				t.Fatal(err)
			}
		}
		out := buf.String()
		if got := strings.Count(out, "readable by group or others"); tc.warn && got != 1 || !tc.warn && got != 0 {
			t.Errorf("mode %04o: %d warnings, want warn=%v:\n%s", tc.mode, got, tc.warn, out)
		}
		if tc.warn && (!strings.Contains(out, "file="+authFile) || !strings.Contains(out, fmt.Sprintf("mode=%04o", tc.mode))) {
			t.Errorf("mode %04o: warning does not name the file and mode:\n%s", tc.mode, out)
		}
		if strings.Contains(out, "s3cret") || strings.Contains(out, base64.StdEncoding.EncodeToString([]byte("berth-user:s3cret-pass"))) {
			t.Errorf("the log shows the credential:\n%s", out)
		}
	}
}

// isolateCredentialEnv points every place the chain looks at empty temp
// dirs, so the host's own credentials never take part.
func isolateCredentialEnv(t *testing.T) string {
	home := t.TempDir()
	t.Setenv("HOME", home)
	for _, k := range []string{"DOCKER_CONFIG", "REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME"} {
		t.Setenv(k, "")
	}
	return home
}

// TestCredentialFilesOrder is the documented order (docs/registries.md).
func TestCredentialFilesOrder(t *testing.T) {
	home := isolateCredentialEnv(t)
	t.Setenv("REGISTRY_AUTH_FILE", "/x/podman-auth.json")
	t.Setenv("XDG_RUNTIME_DIR", "/run/user/0")
	want := []string{"/etc/berth/auth.json", home + "/.docker/config.json", "/x/podman-auth.json",
		"/run/user/0/containers/auth.json", home + "/.config/containers/auth.json"}
	if got := credentialFiles("/etc/berth/auth.json"); !slices.Equal(got, want) {
		t.Errorf("credentialFiles = %q, want %q", got, want)
	}
	t.Setenv("DOCKER_CONFIG", "/d")
	t.Setenv("XDG_CONFIG_HOME", "/c")
	want = []string{"/etc/berth/auth.json", "/d/config.json", "/x/podman-auth.json",
		"/run/user/0/containers/auth.json", "/c/containers/auth.json"}
	if got := credentialFiles("/etc/berth/auth.json"); !slices.Equal(got, want) {
		t.Errorf("with $DOCKER_CONFIG and $XDG_CONFIG_HOME: credentialFiles = %q, want %q", got, want)
	}
	// A system unit has no $HOME; the passwd entry stands in.
	t.Setenv("HOME", "")
	u, err := user.Current()
	if err != nil {
		t.Fatalf("no passwd entry for the test's user: %v", err)
	}
	t.Setenv("DOCKER_CONFIG", "")
	if got := credentialFiles(""); len(got) < 1 || got[0] != filepath.Join(u.HomeDir, ".docker", "config.json") {
		t.Errorf("without $HOME: credentialFiles = %q, want %s/.docker/config.json first", got, u.HomeDir)
	}
}

// TestFileKeychainReadsPodmansDockerHubKey: podman login writes Docker Hub
// as "docker.io", docker as its v1 URL; both are found for busybox.
func TestFileKeychainReadsPodmansDockerHubKey(t *testing.T) {
	for _, key := range []string{"docker.io", "https://index.docker.io/v1/"} {
		path := filepath.Join(t.TempDir(), "auth.json")
		writeAuthFile(t, path, key, "hub-user", "hub-pass", 0o600)
		a, err := FileKeychain(path).Resolve(name.MustParseReference("busybox").Context())
		if err != nil {
			t.Fatal(err)
		}
		if cfg, err := a.Authorization(); err != nil || cfg.Username != "hub-user" {
			t.Errorf("key %s: user %q (%v), want hub-user", key, cfg.Username, err)
		}
	}
}

// TestCredentialChainRunsDockerCredentialHelpers: a credHelpers entry in
// docker's config.json is answered by docker-credential-<helper>, as in
// docker (docs/registries.md says so).
func TestCredentialChainRunsDockerCredentialHelpers(t *testing.T) {
	home := isolateCredentialEnv(t)
	bin := t.TempDir()
	helper := "#!/bin/sh\nread host\necho '{\"ServerURL\":\"'$host'\",\"Username\":\"helper-user\",\"Secret\":\"helper-secret\"}'\n"
	if err := os.WriteFile(filepath.Join(bin, "docker-credential-berthtest"), []byte(helper), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	if err := os.MkdirAll(filepath.Join(home, ".docker"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".docker", "config.json"), []byte(`{"credHelpers": {"private.example": "berthtest"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := CredentialChain(filepath.Join(t.TempDir(), "auth.json"), nil).Resolve(name.MustParseReference("private.example/app").Context())
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err := a.Authorization(); err != nil || cfg.Username != "helper-user" || cfg.Password != "helper-secret" {
		t.Errorf("credential helper: user %q (%v), want helper-user", cfg.Username, err)
	}
}
