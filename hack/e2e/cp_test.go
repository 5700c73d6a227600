package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCp: berth cp copies files, directories and symlinks both ways, with
// ownership by -a only, and a symlink in the container that points to a
// host path leads nowhere on the host, in either direction.
func TestCp(t *testing.T) {
	e := startOps(t)
	wd := filepath.Dir(e.config)
	src := filepath.Join(wd, "src")
	must(t, os.MkdirAll(filepath.Join(src, "sub"), 0o755))
	must(t, os.WriteFile(filepath.Join(src, "a.txt"), []byte("alpha"), 0o644))
	must(t, os.WriteFile(filepath.Join(src, "sub", "b.txt"), []byte("beta"), 0o600))
	must(t, os.Symlink("a.txt", filepath.Join(src, "link")))
	must(t, filepath.Walk(src, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, 4321, 4321)
	}))

	// Into the container: a directory, with and without -a.
	e.mustBerth("cp", src, "ops/web:/data")
	out := e.mustBerth("exec", "ops/web", "sh", "-c", "cat /data/a.txt /data/sub/b.txt; echo; readlink /data/link; stat -c %u:%g /data/a.txt /data/sub/b.txt")
	if want := "alphabeta\na.txt\n0:0\n0:0"; strings.TrimSpace(out) != want {
		t.Errorf("after cp into the container:\n%s\nwant:\n%s", out, want)
	}
	e.mustBerth("cp", "-a", src, "web:/kept")
	if out := e.mustBerth("exec", "ops/web", "stat", "-c", "%u:%g", "/kept/sub/b.txt"); strings.TrimSpace(out) != "4321:4321" {
		t.Errorf("cp -a did not keep the owner: %s", out)
	}

	// Out of the container: a file the host does not have, and a directory.
	e.mustBerth("cp", "ops/web:/secret", filepath.Join(wd, "secret.txt"))
	if b, err := os.ReadFile(filepath.Join(wd, "secret.txt")); err != nil || string(b) != "only-in-the-container\n" {
		t.Errorf("cp out of the container: %q %v", b, err)
	}
	e.mustBerth("cp", "ops/web:/data", filepath.Join(wd, "back"))
	if l, err := os.Readlink(filepath.Join(wd, "back", "link")); err != nil || l != "a.txt" {
		t.Errorf("the symlink came back as %q %v", l, err)
	}
	if b, err := os.ReadFile(filepath.Join(wd, "back", "sub", "b.txt")); err != nil || string(b) != "beta" {
		t.Errorf("directory copied out: %q %v", b, err)
	}

	// Symlinks in the container that name host paths.
	hostDir := filepath.Join(wd, "host-only-dir")
	must(t, os.MkdirAll(hostDir, 0o755))
	hostFile := filepath.Join(wd, "host-only.txt")
	must(t, os.WriteFile(hostFile, []byte("host-secret"), 0o644))
	e.mustBerth("exec", "ops/web", "sh", "-c", "ln -s "+hostDir+" /abs && ln -s ../../../../../../.."+hostDir+" /rel && ln -s "+hostFile+" /leak")
	for _, dst := range []string{"ops/web:/abs/x", "ops/web:/rel/x", "ops/web:/abs/", "ops/web:/rel/"} {
		out, err := e.berth("cp", filepath.Join(src, "a.txt"), dst)
		t.Logf("cp a.txt %s: %v %s", dst, err, out)
	}
	if ents, _ := os.ReadDir(hostDir); len(ents) != 0 {
		t.Errorf("cp into the container wrote through a symlink to the host: %v", ents)
	}
	out, err := e.berth("cp", "-L", "ops/web:/leak", filepath.Join(wd, "leaked-L"))
	if err == nil {
		t.Errorf("cp -L of a symlink to a host file succeeded: %s", out)
	}
	e.mustBerth("cp", "ops/web:/leak", filepath.Join(wd, "leaked"))
	if l, err := os.Readlink(filepath.Join(wd, "leaked")); err != nil || l != hostFile {
		t.Errorf("cp of the symlink gave %q %v, want the symlink itself", l, err)
	}
	for _, p := range []string{"leaked-L", "back"} {
		b, _ := os.ReadFile(filepath.Join(wd, p))
		if strings.Contains(string(b), "host-secret") {
			t.Errorf("%s holds the host file's contents", p)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
