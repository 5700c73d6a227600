package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestMergeEnvReplacesByKey(t *testing.T) {
	got := mergeEnv([]string{"PATH=/bin", "A=1", "B=2"}, []string{"A=override", "C=3"})
	want := []string{"PATH=/bin", "A=override", "B=2", "C=3"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mergeEnv = %v, want %v", got, want)
	}
}

// TestCheckCommandExitCodes: docker's 127 for a missing command, 126 for
// one that is not executable, and symlinks resolved inside the root, never
// on the host.
func TestCheckCommandExitCodes(t *testing.T) {
	root := t.TempDir()
	bin := filepath.Join(root, "bin")
	must(t, os.MkdirAll(bin, 0o755))
	must(t, os.WriteFile(filepath.Join(bin, "tool"), []byte("#!/bin/sh\n"), 0o755))
	must(t, os.WriteFile(filepath.Join(bin, "data"), []byte("x"), 0o644))
	// Absolute inside the container: resolves to <root>/bin/tool.
	must(t, os.Symlink("/bin/tool", filepath.Join(bin, "alias")))
	// /usr/bin/env exists on the host, not in root.
	env := []string{"PATH=/bin"}
	for _, c := range []struct {
		cmd  string
		code int
	}{
		{"tool", 0}, {"/bin/tool", 0}, {"alias", 0},
		{"data", ExitCannotInvoke}, {"missing", ExitNotFound}, {"/usr/bin/env", ExitNotFound},
		{"bin/tool", 0},
	} {
		err := checkCommand(root, "/", env, c.cmd)
		var ee *ExecError
		got := 0
		if errors.As(err, &ee) {
			got = ee.Code
		} else if err != nil {
			t.Fatalf("%s: %v", c.cmd, err)
		}
		if got != c.code {
			t.Errorf("checkCommand(%q) code %d, want %d (%v)", c.cmd, got, c.code, err)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
