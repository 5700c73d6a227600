package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/compose/model"
	"github.com/berth-dev/berth/runtime/image"
)

// launcherEnv makes the test binary act as "berth run": it starts the
// container described by the JSON in this variable and exits, as under
// systemd.
const launcherEnv = "BERTH_TEST_LAUNCHER"

type launchSpec struct {
	Opts    Options
	Service model.Service
	Layer   string
}

func launchFromEnv() int {
	var ls launchSpec
	if err := json.Unmarshal([]byte(os.Getenv(launcherEnv)), &ls); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	d := deps{
		ensure: func(ctx context.Context, o Options, ref string, _ model.PullPolicy) (*imageInfo, error) {
			return &imageInfo{Ref: ref, Digest: "sha256:test", Layers: []string{ls.Layer}}, nil
		},
		mount: image.Mount, unmount: image.Unmount, stdout: os.Stdout, stderr: os.Stderr,
	}
	if err := run(context.Background(), ls.Opts, &ls.Service, d); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// TestLauncherExitsAndContainerKeepsRunning checks decision 1 of DESIGN.md:
// after "berth run" returns and exits, the container runs on, no berth
// process remains, and its stdout still reaches the stream the launcher got.
func TestLauncherExitsAndContainerKeepsRunning(t *testing.T) {
	requireRoot(t)
	enterTestCgroup(t)
	// Stand in for systemd: orphans of the launcher come to us.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	defer unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)

	opts := testOptions(t)
	opts.Log = nil
	notes := listenNotify(t)
	svc := model.Service{Project: "berthtest", Name: "detached", Image: "test/busybox",
		Command: []string{"sh", "-c", "echo early; sleep 1; echo late; sleep 30"}}
	spec, err := json.Marshal(launchSpec{Opts: opts, Service: svc, Layer: busyboxRootfs(t)})
	if err != nil {
		t.Fatal(err)
	}
	stdout := filepath.Join(t.TempDir(), "journal")
	out, err := os.Create(stdout)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()

	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	launcher := exec.Command(self)
	launcher.Env = append(os.Environ(), launcherEnv+"="+string(spec))
	launcher.Stdout, launcher.Stderr = out, out
	start := time.Now()
	if err := launcher.Run(); err != nil {
		b, _ := os.ReadFile(stdout)
		t.Fatalf("launcher failed: %v\n%s", err, b)
	}
	t.Logf("launcher ran for %v", time.Since(start))

	var pid int
	for _, line := range strings.Split(notes.next(t), "\n") {
		if v, ok := strings.CutPrefix(line, "MAINPID="); ok {
			pid, _ = strconv.Atoi(v)
		}
	}
	t.Cleanup(func() { cleanupAfterFailure(t, opts, svc.ID()); reap(pid) })
	if pid == launcher.Process.Pid || pid <= 0 {
		t.Fatalf("MAINPID %d is not the container (launcher was %d)", pid, launcher.Process.Pid)
	}
	status := procStatus(t, pid)
	if status["PPid"] != strconv.Itoa(os.Getpid()) {
		t.Fatalf("container's parent is %s, want the subreaper %d (launcher gone)", status["PPid"], os.Getpid())
	}
	if err := unix.Kill(launcher.Process.Pid, 0); !errors.Is(err, unix.ESRCH) {
		t.Fatalf("launcher %d still exists", launcher.Process.Pid)
	}
	waitFor(t, "output written after the launcher exited", func() bool {
		b, _ := os.ReadFile(stdout)
		return strings.Contains(string(b), "early\n") && strings.Contains(string(b), "late\n")
	})
	if err := Cleanup(context.Background(), opts, svc.ID()); err != nil {
		t.Fatal(err)
	}
	reap(pid)
}
