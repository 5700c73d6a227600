package reconciler

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestFingerprintFollowsSymlinkedProject: editing a file inside a project
// directory that is a symlink in the config dir changes the fingerprint, so
// the agent reloads it (compose.LoadDir follows such entries).
func TestFingerprintFollowsSymlinkedProject(t *testing.T) {
	cfg, elsewhere := t.TempDir(), t.TempDir()
	file := filepath.Join(elsewhere, "compose.yaml")
	if err := os.WriteFile(file, []byte("services: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, filepath.Join(cfg, "app")); err != nil {
		t.Fatal(err)
	}
	before, err := fingerprint(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte("services: {a: {image: busybox}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Second)
	if err := os.Chtimes(file, later, later); err != nil {
		t.Fatal(err)
	}
	after, err := fingerprint(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if before == after {
		t.Fatal("fingerprint unchanged after editing a file in a symlinked project directory")
	}
}
