package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berth-dev/berth/compose/model"
)

// TestRunFailingAfterAnyPhaseLeavesNothing fails a real start right after
// each of its phases in turn: whatever the phases made by then (dirs,
// overlay mount, files, network, cgroups, libcontainer state, the running
// PID 1) is gone again, and a new named volume is removed only while the
// container has never run.
func TestRunFailingAfterAnyPhaseLeavesNothing(t *testing.T) {
	e := newRunEnv(t)
	unit, err := unitCgroup()
	if err != nil {
		t.Fatal(err)
	}
	layer := busyboxRootfs(t)
	svc := &model.Service{Project: "berthtest", Name: "phases", Image: "test/busybox",
		Command: []string{"sleep", "30"},
		Mounts:  []model.Mount{{Type: model.MountVolume, Source: "berthtest_phases", Target: "/data"}}}
	injected := errors.New("injected failure")

	probe, err := newLaunch(context.Background(), e.opts, svc, testDeps(t, layer, e.out))
	if err != nil {
		t.Fatal(err)
	}
	all := probe.phases()
	startAt := slices.IndexFunc(all, func(p phase) bool { return p.name == "start" })
	for i, after := range all[:len(all)-1] {
		t.Run("after "+after.name, func(t *testing.T) {
			opts := testOptions(t)
			s, err := newLaunch(context.Background(), opts, svc, testDeps(t, layer, e.out))
			if err != nil {
				t.Fatal(err)
			}
			pid := 0
			ps := slices.Insert(s.phases(), i+1, phase{"fail", func() error { pid = s.pid; return injected }})
			err = s.run(ps)
			if !errors.Is(err, injected) {
				t.Fatalf("run = %v, want the injected failure", err)
			}
			if pid > 0 {
				// The test is PID 1's parent, so a killed one stays a zombie until reaped.
				if st := procState(pid); st != "Z" && st != "" {
					t.Errorf("container PID 1 (%d) is in state %q after the failed start, want it killed", pid, st)
				}
				reap(pid)
			}
			assertNothingLeft(t, opts, unit, svc.ID())
			_, err = os.Stat(VolumePath(opts.StateDir, "berthtest_phases"))
			switch ran := i >= startAt; {
			case ran && err != nil:
				t.Errorf("volume of a container that ran is gone after a later failure: %v", err)
			case !ran && !errors.Is(err, os.ErrNotExist):
				t.Errorf("new volume of a container that never ran is left behind (%v)", err)
			}
		})
	}
}

// procState is the state letter of /proc/PID/stat, "" when pid is gone.
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2 : i+3]
	}
	return "?"
}

// TestRunFailingInHandOverLeavesNothing: the last phase fails after it
// wrote the state and PID files (systemd's notify socket is gone), and the
// running container, its files and everything else are removed.
func TestRunFailingInHandOverLeavesNothing(t *testing.T) {
	e := newRunEnv(t)
	unit, err := unitCgroup()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "gone.sock"))
	svc := &model.Service{Project: "berthtest", Name: "handover", Image: "test/busybox", Command: []string{"sleep", "30"}}
	s, err := newLaunch(context.Background(), e.opts, svc, testDeps(t, busyboxRootfs(t), e.out))
	if err != nil {
		t.Fatal(err)
	}
	pidFileWritten := false
	ps := s.phases()
	last := ps[len(ps)-1]
	ps[len(ps)-1] = phase{last.name, func() error {
		err := last.run()
		_, statErr := os.Stat(s.l.pidFile)
		pidFileWritten = statErr == nil
		return err
	}}
	err = s.run(ps)
	if err == nil || !strings.Contains(err.Error(), "notifying systemd") {
		t.Fatalf("run = %v, want it to fail notifying systemd", err)
	}
	if !pidFileWritten {
		t.Fatalf("the PID file was not written before the hand-over failed; the test covers nothing")
	}
	if st := procState(s.pid); st != "Z" && st != "" {
		t.Errorf("container PID 1 (%d) is in state %q after the failed hand-over, want it killed", s.pid, st)
	}
	reap(s.pid)
	assertNothingLeft(t, e.opts, unit, svc.ID())
}
