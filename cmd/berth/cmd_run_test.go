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

// TestRunTTYDefaults: a pty as docker compose run decides: -t or -T when
// given, else only when stdout is a terminal, and stdin too unless -i was
// given; -v is --volume for run (not --verbose).
func TestRunTTYDefaults(t *testing.T) {
	for _, c := range []struct {
		args          []string
		stdin, stdout bool
		tty           bool
	}{
		{nil, true, true, true},
		{nil, false, true, false},
		{nil, true, false, false},
		{[]string{"-i"}, false, true, true},
		{[]string{"-t"}, false, false, true},
		{[]string{"-T"}, true, true, false},
		{[]string{"--tty=false"}, true, true, false},
	} {
		cmd := newRunCommand(&globalOptions{})
		if err := cmd.ParseFlags(c.args); err != nil {
			t.Fatal(err)
		}
		o := &runOptions{}
		f := cmd.Flags()
		o.Interactive, _ = f.GetBool("interactive")
		o.TTY, _ = f.GetBool("tty")
		o.NoTTY, _ = f.GetBool("no-TTY")
		o.resolveTTY(f, c.stdin, c.stdout)
		if got := !o.NoTTY; got != c.tty {
			t.Errorf("%v, stdin terminal %v, stdout terminal %v: tty %v, want %v", c.args, c.stdin, c.stdout, got, c.tty)
		}
	}
	cmd := newRunCommand(&globalOptions{})
	if err := cmd.ParseFlags([]string{"-v", "./a:/a", "-v", "/b:/b:ro"}); err != nil {
		t.Fatal(err)
	}
	if v, _ := cmd.Flags().GetStringArray("volume"); len(v) != 2 {
		t.Errorf("-v is not --volume: %v", v)
	}
}
