package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestDayTwoHelp: every day-two command answers --help with its usage and
// an example.
func TestDayTwoHelp(t *testing.T) {
	for _, name := range []string{"exec", "run", "cp", "top", "stats", "ls"} {
		root := newRootCommand()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetArgs([]string{name, "--help"})
		if err := root.Execute(); err != nil {
			t.Fatalf("%s --help: %v", name, err)
		}
		if !strings.Contains(out.String(), "Examples:\n  berth "+name) {
			t.Errorf("%s --help has no example:\n%s", name, out.String())
		}
	}
}
