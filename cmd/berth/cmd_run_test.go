package main

import (
	"strings"
	"testing"
)

// TestRunLegacySpec: `berth run --spec FILE [--wait] -- ID`, the ExecStart=
// of units made without berth-launcher beside berth, still reaches the
// launcher's run (which reads the spec), not the one-off command.
func TestRunLegacySpec(t *testing.T) {
	for _, args := range [][]string{
		{"run", "--spec", "/nonexistent/spec.json", "--", "p-s"},
		{"run", "--wait", "--spec", "/nonexistent/spec.json", "--", "p-s"},
	} {
		root := newRootCommand()
		root.SetArgs(append([]string{"--state-dir", t.TempDir(), "--run-dir", t.TempDir()}, args...))
		err := root.Execute()
		if err == nil || !strings.Contains(err.Error(), "reading spec") {
			t.Errorf("%v: %v, want the launcher's error reading the spec", args, err)
		}
	}
}
