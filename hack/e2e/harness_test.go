package e2e

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func sbCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func mustExec(t *testing.T, s *Sandbox, name string, args ...string) string {
	t.Helper()
	out, err := s.Exec(sbCtx(t), name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// TestSandboxBoots: systemd runs as the sandbox's PID 1, transient units
// log to its journal, the system bus works, memory limits land in the v1
// memory hierarchy, and the host's /tmp and /dev are untouched.
func TestSandboxBoots(t *testing.T) {
	requireRoot(t)
	marker, err := os.CreateTemp("/tmp", "berth-e2e-harness-")
	if err != nil {
		t.Fatal(err)
	}
	marker.Close()
	t.Cleanup(func() { os.Remove(marker.Name()) })
	_, devLogErr := os.Lstat("/dev/log")

	s := BootSystemd(t)
	t.Logf("boot took %v", s.Boot)

	if st := mustExec(t, s, "systemctl", "is-system-running"); st != "running" && st != "degraded" {
		t.Fatalf("is-system-running: %s", st)
	}
	if comm := mustExec(t, s, "cat", "/proc/1/comm"); comm != "systemd" {
		t.Errorf("PID 1 in the sandbox is %q", comm)
	}
	if _, err := os.Stat(marker.Name()); err != nil {
		t.Fatalf("host /tmp marker gone after boot: %v", err)
	}
	if out, err := s.Exec(sbCtx(t), "test", "-e", marker.Name()); err == nil {
		t.Errorf("the sandbox sees the host's /tmp (%s): %s", marker.Name(), out)
	}
	if _, err := os.Lstat("/dev/log"); errors.Is(devLogErr, os.ErrNotExist) && err == nil {
		t.Errorf("booting the sandbox created /dev/log on the host")
	}
	if _, err := s.Exec(sbCtx(t), "test", "-S", "/run/systemd/private"); err != nil {
		t.Errorf("no private systemd socket: %v", err)
	}

	// A transient unit's output reaches the sandbox's journal.
	word := fmt.Sprintf("hi-%d", time.Now().UnixNano())
	mustExec(t, s, "systemd-run", "--wait", "--quiet", "--unit=e2e-hi", "-p", "StandardOutput=journal", "echo", word)
	deadline := time.Now().Add(10 * time.Second)
	for {
		j := mustExec(t, s, "journalctl", "--no-pager", "-o", "cat", "-u", "e2e-hi.service")
		if strings.Contains(j, word) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("journal of e2e-hi.service lacks %q:\n%s", word, j)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The system bus is socket-activated and systemd is on it.
	names := mustExec(t, s, "busctl", "--system", "--no-pager", "list", "--no-legend")
	if !strings.Contains(names, "org.freedesktop.systemd1") {
		t.Errorf("org.freedesktop.systemd1 not on the system bus:\n%s", names)
	}
	if st := mustExec(t, s, "systemctl", "is-active", "dbus.service"); st != "active" {
		t.Errorf("dbus.service is %s", st)
	}

	// A delegated unit with MemoryMax gets its own memory cgroup at
	// /sys/fs/cgroup/memory<ControlGroup>, the same path on the host.
	mustExec(t, s, "systemd-run", "--quiet", "--unit=e2e-mem", "-p", "MemoryMax=64M", "-p", "Delegate=yes", "sleep", "100")
	cg := mustExec(t, s, "systemctl", "show", "-p", "ControlGroup", "--value", "e2e-mem.service")
	want := s.Cgroup() + "/system.slice/e2e-mem.service"
	if cg != want {
		t.Errorf("ControlGroup %q, want %q", cg, want)
	}
	limitFile := "/sys/fs/cgroup/memory" + cg + "/memory.limit_in_bytes"
	if l := mustExec(t, s, "cat", limitFile); l != strconv.Itoa(64<<20) {
		t.Errorf("%s in the sandbox: %s", limitFile, l)
	}
	if l, err := os.ReadFile(limitFile); err != nil || strings.TrimSpace(string(l)) != strconv.Itoa(64<<20) {
		t.Errorf("%s on the host: %q %v", limitFile, l, err)
	}
	pid := mustExec(t, s, "systemctl", "show", "-p", "MainPID", "--value", "e2e-mem.service")
	t.Logf("/proc/%s/cgroup of e2e-mem.service (sandbox pid):\n%s", pid, mustExec(t, s, "cat", "/proc/"+pid+"/cgroup"))
}

// TestSandboxTeardown: after cleanup no process of the sandbox, no cgroup
// and no work dir is left.
func TestSandboxTeardown(t *testing.T) {
	requireRoot(t)
	var hostPID int
	var cg string
	var dirs []string
	t.Run("boot", func(t *testing.T) {
		s := BootSystemd(t)
		mustExec(t, s, "systemd-run", "--quiet", "--unit=e2e-sleeper", "-p", "Delegate=yes", "sleep", "1000")
		hostPID, cg, dirs = s.PID(), s.Cgroup(), s.cgroup.dirs
		if len(processesInNS(s.pidNS)) < 3 {
			t.Errorf("expected systemd, journald and sleep in the namespace, got %v", processesInNS(s.pidNS))
		}
	})
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", hostPID)); err == nil {
		t.Errorf("systemd (host pid %d) still exists after cleanup", hostPID)
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("cgroup %s left behind", d)
		}
	}
	if cg == "" {
		t.Fatal("boot subtest did not run")
	}
	matches, _ := filepath.Glob("/sys/fs/cgroup/*" + cg)
	if len(matches) > 0 {
		t.Errorf("cgroups left: %v", matches)
	}
}

// TestRegistryPushPull: an image pushed to the real registry comes back
// with the same digest; a tag can be overwritten and deleted; HEADs are
// counted; layered images carry whiteouts.
func TestRegistryPushPull(t *testing.T) {
	requireRoot(t)
	r := StartRegistry(t)
	img, err := BuildBusybox()
	if err != nil {
		t.Fatal(err)
	}
	again, err := BuildBusybox()
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := img.Digest()
	d2, _ := again.Digest()
	if d1 != d2 {
		t.Errorf("BuildBusybox is not deterministic: %s vs %s", d1, d2)
	}

	dig := r.Push(t, "busybox:latest", img)
	ref, err := name.ParseReference(r.Ref("busybox:latest"), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	pulled, err := remote.Image(ref)
	if err != nil {
		t.Fatalf("pulling %s: %v", ref, err)
	}
	pd, err := pulled.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if pd.String() != dig {
		t.Errorf("pulled digest %s, pushed %s", pd, dig)
	}
	cf, err := pulled.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cf.Config.Cmd, " ") != "sh" || len(cf.Config.Env) == 0 {
		t.Errorf("config: %+v", cf.Config)
	}
	entries := layerEntries(t, pulled, 0)
	for _, want := range []string{"bin/busybox", "bin/sh", "bin/wget", "etc/passwd", "etc/group", "tmp/"} {
		if _, ok := entries[want]; !ok {
			t.Errorf("busybox layer lacks %s", want)
		}
	}
	if !strings.Contains(entries["etc/passwd"], "nobody:") {
		t.Errorf("/etc/passwd lacks nobody: %q", entries["etc/passwd"])
	}

	// HEAD counting: exactly the HEADs the client makes.
	if n := r.HeadCount(); n != 0 {
		t.Errorf("HeadCount after push = %d, want 0", n)
	}
	desc, err := remote.Head(ref)
	if err != nil {
		t.Fatal(err)
	}
	if desc.Digest.String() != dig || r.HeadCount() != 1 || r.HeadCounts()["/v2/busybox/manifests/latest"] != 1 {
		t.Errorf("after one HEAD: digest %s, counts %v", desc.Digest, r.HeadCounts())
	}

	// v2 with an extra layer that also deletes a file overwrites the tag.
	v2, err := BuildBusybox(
		WithFile("/srv/version", []byte("2\n")),
		WithLayer(Layer{Delete: []string{"/bin/wget"}}),
		WithLabels(map[string]string{"io.containers.autoupdate": "registry"}),
		WithOCIMediaTypes(),
	)
	if err != nil {
		t.Fatal(err)
	}
	dig2 := r.Push(t, "busybox:latest", v2)
	if dig2 == dig {
		t.Fatal("v2 has v1's digest")
	}
	desc, err = remote.Head(ref)
	if err != nil || desc.Digest.String() != dig2 {
		t.Fatalf("tag not moved to v2: %v %v", desc, err)
	}
	pulled2, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	if ls, _ := pulled2.Layers(); len(ls) != 3 {
		t.Errorf("v2 has %d layers, want 3", len(ls))
	}
	if e := layerEntries(t, pulled2, 1); e["srv/version"] != "2\n" {
		t.Errorf("layer 2: %v", e)
	}
	if e := layerEntries(t, pulled2, 2); !hasKey(e, "bin/.wh.wget") {
		t.Errorf("layer 3 lacks the whiteout: %v", e)
	}

	r.Delete(t, "busybox:latest")
	if _, err := remote.Head(ref); err == nil {
		t.Error("tag still resolves after Delete")
	}
}

func hasKey(m map[string]string, k string) bool { _, ok := m[k]; return ok }

// layerEntries maps entry names of layer i to their contents (files under
// 4 KiB only; others map to "").
func layerEntries(t *testing.T, img v1.Image, i int) map[string]string {
	t.Helper()
	layers, err := img.Layers()
	if err != nil || i >= len(layers) {
		t.Fatalf("layer %d: %v (have %d)", i, err, len(layers))
	}
	rc, err := layers[i].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out := map[string]string{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("reading layer %d: %v", i, err)
		}
		var content []byte
		if h.Size < 4096 {
			content, _ = io.ReadAll(tr)
		}
		out[h.Name] = string(content)
	}
}
