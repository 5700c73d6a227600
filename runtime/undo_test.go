package runtime

import (
	"bytes"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
)

// undoRecorder builds phases whose undos record that they ran.
type undoRecorder struct {
	u   undoStack
	ran []string // phases, then undos as "undo <name>"
}

func (r *undoRecorder) phase(name string, undos []string, err error) phase {
	return phase{name, func() error {
		r.ran = append(r.ran, name)
		for _, n := range undos {
			r.u.push(n, func() error { r.ran = append(r.ran, "undo "+n); return nil })
		}
		return err
	}}
}

func TestRunPhasesUnwindsNewestFirstOnlyOnFailure(t *testing.T) {
	failed := errors.New("create failed")
	r := &undoRecorder{}
	ps := []phase{
		r.phase("rootfs", []string{"dirs", "rootfs"}, nil),
		r.phase("network", []string{"network"}, nil),
		r.phase("create", []string{"container"}, failed), // pushed before it failed half-way
		r.phase("start", []string{"never"}, nil),
	}
	err := runPhases(ps, &r.u, newTimings(), slog.New(slog.DiscardHandler))
	if !errors.Is(err, failed) {
		t.Fatalf("runPhases = %v, want the failed phase's error", err)
	}
	want := []string{"rootfs", "network", "create", "undo container", "undo network", "undo rootfs", "undo dirs"}
	if !slices.Equal(r.ran, want) {
		t.Fatalf("ran %q, want %q", r.ran, want)
	}
	if len(r.u.steps) != 0 {
		t.Fatalf("%d undo steps left after unwinding", len(r.u.steps))
	}

	r = &undoRecorder{}
	ps = []phase{r.phase("rootfs", []string{"dirs"}, nil), r.phase("start", []string{"container"}, nil)}
	if err := runPhases(ps, &r.u, newTimings(), slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	if err := r.u.unwind(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"rootfs", "start"}; !slices.Equal(r.ran, want) {
		t.Fatalf("a successful start ran %q, want %q and no undo (the container is systemd's now)", r.ran, want)
	}
}

func TestUndoFailureIsReportedAndTheRestStillRun(t *testing.T) {
	var u undoStack
	var ran []string
	unmountErr := errors.New("unmounting rootfs: device busy")
	delErr := errors.New("CNI DEL: plugin failed")
	u.push("dirs", func() error { ran = append(ran, "dirs"); return nil })
	u.push("rootfs", func() error { ran = append(ran, "rootfs"); return unmountErr })
	u.push("network", func() error { ran = append(ran, "network"); return delErr })
	u.push("container", func() error { ran = append(ran, "container"); return nil })

	var logs bytes.Buffer
	startErr := errors.New("starting container: exec failed")
	err := runPhases([]phase{{"start", func() error { return startErr }}}, &u, newTimings(), slog.New(slog.NewTextHandler(&logs, nil)))
	if err != startErr {
		t.Fatalf("runPhases = %v, want the phase's own error %v, not the undo's", err, startErr)
	}
	if want := []string{"container", "network", "rootfs", "dirs"}; !slices.Equal(ran, want) {
		t.Fatalf("undos ran %q, want %q", ran, want)
	}
	for _, want := range []string{"cleaning up after failed start", "phase=start", unmountErr.Error(), delErr.Error()} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}

	u.push("a", func() error { return unmountErr })
	u.push("b", func() error { return delErr })
	if err := u.unwind(); !errors.Is(err, unmountErr) || !errors.Is(err, delErr) {
		t.Fatalf("unwind = %v, want both undo errors", err)
	}
}

func TestUndoKeepDropsOnlyTheNamedStep(t *testing.T) {
	var u undoStack
	var ran []string
	for _, n := range []string{"dirs", "volumes", "container"} {
		u.push(n, func() error { ran = append(ran, n); return nil })
	}
	u.keep("volumes")
	if err := u.unwind(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"container", "dirs"}; !slices.Equal(ran, want) {
		t.Fatalf("undos ran %q, want %q (volumes kept)", ran, want)
	}
}
