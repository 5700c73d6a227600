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

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/compose/model"
)

func TestEnsureVolumeCopiesImageContentOnce(t *testing.T) {
	requireRoot(t)
	state := t.TempDir()
	img := t.TempDir()
	writeFile(t, filepath.Join(img, "seed/a.txt"), "from image\n")
	if err := os.Chown(filepath.Join(img, "seed"), 1000, 1000); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(img, "seed"), 0o750); err != nil {
		t.Fatal(err)
	}
	data, created, err := ensureVolume(state, "p_data", "p", filepath.Join(img, "seed"))
	if err != nil || !created {
		t.Fatalf("ensureVolume = %v, created %v", err, created)
	}
	if data != VolumePath(state, "p_data") || data != filepath.Join(state, "volumes/p_data/_data") {
		t.Fatalf("volume data at %s", data)
	}
	if b, err := os.ReadFile(filepath.Join(data, "a.txt")); err != nil || string(b) != "from image\n" {
		t.Fatalf("copied content %q, %v", b, err)
	}
	var st unix.Stat_t
	if err := unix.Stat(data, &st); err != nil {
		t.Fatal(err)
	}
	if st.Uid != 1000 || st.Gid != 1000 || st.Mode&0o7777 != 0o750 {
		t.Fatalf("volume root %d:%d %o, want the image dir's 1000:1000 750", st.Uid, st.Gid, st.Mode&0o7777)
	}
	// Used again (recreation): the volume's content wins, nothing is copied.
	writeFile(t, filepath.Join(data, "a.txt"), "changed\n")
	writeFile(t, filepath.Join(img, "seed/b.txt"), "new in image\n")
	if _, created, err := ensureVolume(state, "p_data", "p", filepath.Join(img, "seed")); err != nil || created {
		t.Fatalf("second ensureVolume = %v, created %v", err, created)
	}
	if b, _ := os.ReadFile(filepath.Join(data, "a.txt")); string(b) != "changed\n" {
		t.Fatalf("volume content overwritten: %q", b)
	}
	if _, err := os.Stat(filepath.Join(data, "b.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("image content copied into a used volume: %v", err)
	}
	// No image content at the target: an empty volume.
	if data, _, err := ensureVolume(state, "p_empty", "p", filepath.Join(img, "none")); err != nil {
		t.Fatal(err)
	} else if empty, _ := isEmptyDir(data); !empty {
		t.Fatal("volume without image content is not empty")
	}
	if _, _, err := ensureVolume(state, "../evil", "p", ""); err == nil {
		t.Fatal("volume name ../evil accepted")
	}
}

func TestRemoveProjectVolumesOnlyTheProjects(t *testing.T) {
	state := t.TempDir()
	for _, v := range []struct{ name, project string }{{"p_data", "p"}, {"p_cache", "p"}, {"q_data", "q"}, {"shared", "q"}} {
		if _, _, err := ensureVolume(state, v.name, v.project, ""); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := RemoveProjectVolumes(state, "p")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(removed)
	if !slices.Equal(removed, []string{"p_cache", "p_data"}) {
		t.Fatalf("removed %v", removed)
	}
	for _, keep := range []string{"q_data", "shared"} {
		if _, err := os.Stat(VolumePath(state, keep)); err != nil {
			t.Fatalf("volume %s of another project removed: %v", keep, err)
		}
	}
	if _, err := os.Stat(filepath.Join(state, "volumes/p_data")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("p_data still exists: %v", err)
	}
	if removed, err := RemoveProjectVolumes(t.TempDir(), "p"); err != nil || len(removed) != 0 {
		t.Fatalf("no volumes dir: %v %v", removed, err)
	}
}

func TestWriteFilesModeOwnerContent(t *testing.T) {
	requireRoot(t)
	l, err := newLayout(Options{StateDir: t.TempDir(), RunDir: t.TempDir()}, "p-web")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(l.runDir, 0o700); err != nil {
		t.Fatal(err)
	}
	paths, err := writeFiles(l, []model.FileMount{
		{Secret: true, Name: "db", Target: "/run/secrets/db", Content: []byte("s3cret"), UID: 1000, GID: 2000, Mode: 0o400},
		{Name: "conf", Target: "/conf", Content: []byte("a=1\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		content  string
		uid, gid uint32
		mode     uint32
	}{{"s3cret", 1000, 2000, 0o400}, {"a=1\n", 0, 0, 0o444}}
	for i, w := range want {
		if !strings.HasPrefix(paths[i], l.runDir+"/") {
			t.Fatalf("file %d at %s, not under the run dir", i, paths[i])
		}
		var st unix.Stat_t
		if err := unix.Stat(paths[i], &st); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(paths[i])
		if string(b) != w.content || st.Uid != w.uid || st.Gid != w.gid || st.Mode&0o7777 != w.mode {
			t.Fatalf("file %d: %q %d:%d %o, want %q %d:%d %o", i, b, st.Uid, st.Gid, st.Mode&0o7777, w.content, w.uid, w.gid, w.mode)
		}
	}
	fi, err := os.Stat(filepath.Dir(paths[0]))
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("files dir mode %v, %v; want 0700", fi.Mode(), err)
	}
	if _, err := writeFiles(l, []model.FileMount{{Name: "x", Mode: 0o10000}}); err == nil {
		t.Fatal("mode 10000 accepted")
	}
}

// TestRunStorageAndSecurity starts a real container with volumes, files,
// tmpfs, a read-only root, devices and security settings and checks each
// from the host through /proc/PID, as a user would inside.
func TestRunStorageAndSecurity(t *testing.T) {
	e := newRunEnv(t)
	opts, outPath := e.opts, e.outPath
	unit, err := unitCgroup()
	if err != nil {
		t.Fatal(err)
	}
	layer := busyboxRootfs(t)
	writeFile(t, filepath.Join(layer, "var/lib/app/seed"), "seeded\n")
	for _, app := range []string{"touch", "stat", "ls"} {
		if err := os.Symlink("busybox", filepath.Join(layer, "bin", app)); err != nil {
			t.Fatal(err)
		}
	}
	bindDir := t.TempDir()
	writeFile(t, filepath.Join(bindDir, "sub/conf.txt"), "bound\n")
	// A device runc's default rules do not allow already, to see the
	// service's "r" rule refuse opening it for writing.
	ronly := ""
	for _, d := range []string{"/dev/loop-control", "/dev/fuse"} {
		if _, err := os.Stat(d); err == nil {
			ronly = d
			break
		}
	}
	if ronly == "" {
		t.Fatal("neither /dev/loop-control nor /dev/fuse exists on this host (load the loop or fuse module)")
	}

	svc := &model.Service{Project: "berthtest", Name: "store", Image: "test/busybox", Hostname: "box", Domainname: "example.org",
		Command: []string{"sh", "-c", "echo v > /var/lib/app/written; touch /rootfile 2>/dev/null && echo rootrw || echo rootro; echo t > /scratch/x && echo tmpfsrw; echo x > /dev/other-null && echo devok; true < /dev/ronly && echo ronly-read; true 2>/dev/null >/dev/ronly && echo ronly-writable || echo ronly-denied; cat /proc/sys/kernel/hostname /proc/sys/kernel/domainname /proc/sys/net/ipv4/ip_unprivileged_port_start; echo done; sleep 30"},
		Mounts: []model.Mount{
			{Type: model.MountVolume, Source: "berthtest_data", Target: "/var/lib/app"},
			{Type: model.MountVolume, Target: "/anon"},
			{Type: model.MountBind, Source: bindDir, SubPath: "sub", Target: "/conf", ReadOnly: true},
			{Type: model.MountTmpfs, Target: "/scratch", Size: 1 << 20},
		},
		Files:    []model.FileMount{{Secret: true, Name: "pw", Target: "/run/secrets/pw", Content: []byte("hunter2"), UID: 1000, GID: 1000, Mode: 0o400}},
		ReadOnly: true,
		ShmSize:  32 << 20,
		GroupAdd: []string{"4242"},
		Devices:  []model.Device{{Source: "/dev/null", Target: "/dev/other-null"}, {Source: ronly, Target: "/dev/ronly", Permissions: "r"}},
		Security: model.Security{CapDrop: []string{"ALL"}, CapAdd: []string{"NET_BIND_SERVICE", "KILL"}, NoNewPrivileges: true,
			Ulimits: map[string]model.Ulimit{"nproc": {Soft: 77, Hard: 88}},
			Sysctls: map[string]string{"net.ipv4.ip_unprivileged_port_start": "99"}},
	}
	pid := e.start(t, svc, layer).Pid
	root := fmt.Sprintf("/proc/%d/root", pid)
	waitFor(t, "the command's output", func() bool {
		b, _ := os.ReadFile(outPath)
		return strings.Contains(string(b), "done\n")
	})
	// hostname, domainname and net sysctls are per namespace: the
	// container reports its own.
	if b, _ := os.ReadFile(outPath); !strings.Contains(string(b), "rootro\ntmpfsrw\ndevok\nronly-read\nronly-denied\nbox\nexample.org\n99\ndone\n") {
		t.Errorf("container output %q, want a read-only root, a writable tmpfs, a writable device, a read-only one (device cgroup), hostname box, domainname example.org, sysctl 99", b)
	}
	vol := VolumePath(opts.StateDir, "berthtest_data")
	for f, want := range map[string]string{"seed": "seeded\n", "written": "v\n"} {
		if b, err := os.ReadFile(filepath.Join(vol, f)); err != nil || string(b) != want {
			t.Errorf("volume file %s = %q, %v; want %q", f, b, err, want)
		}
	}
	if b, err := os.ReadFile(root + "/conf/conf.txt"); err != nil || string(b) != "bound\n" {
		t.Errorf("bind sub_path: %q %v", b, err)
	}
	if b, err := os.ReadFile(root + "/anon/seed"); err == nil {
		t.Errorf("anonymous volume has content %q from nowhere", b)
	}
	var sst unix.Stat_t
	if err := unix.Stat(root+"/run/secrets/pw", &sst); err != nil {
		t.Fatal(err)
	}
	if sst.Uid != 1000 || sst.Gid != 1000 || sst.Mode&0o7777 != 0o400 {
		t.Errorf("secret %d:%d %o, want 1000:1000 400", sst.Uid, sst.Gid, sst.Mode&0o7777)
	}
	if b, _ := os.ReadFile(root + "/run/secrets/pw"); string(b) != "hunter2" {
		t.Errorf("secret content %q", b)
	}
	if err := unix.Stat(root+"/dev/other-null", &sst); err != nil || sst.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(sst.Rdev) != 1 || unix.Minor(sst.Rdev) != 3 {
		t.Errorf("device /dev/other-null: %v mode %o", err, sst.Mode)
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(root+"/dev/shm", &fs); err != nil || uint64(fs.Blocks)*uint64(fs.Bsize) != 32<<20 {
		t.Errorf("/dev/shm is %d bytes (%v), want shm_size 32 MiB", uint64(fs.Blocks)*uint64(fs.Bsize), err)
	}
	status := procStatus(t, pid)
	if !slices.Contains(strings.Fields(status["Groups"]), "4242") {
		t.Errorf("Groups %q lack group_add 4242", status["Groups"])
	}
	// KILL (5) and NET_BIND_SERVICE (10) only.
	if status["CapEff"] != "0000000000000420" || status["CapBnd"] != "0000000000000420" {
		t.Errorf("CapEff %s CapBnd %s, want 0000000000000420", status["CapEff"], status["CapBnd"])
	}
	if status["NoNewPrivs"] != "1" {
		t.Errorf("NoNewPrivs %s", status["NoNewPrivs"])
	}
	limits := readLines(t, fmt.Sprintf("/proc/%d/limits", pid))
	if !slices.ContainsFunc(limits, func(l string) bool {
		f := strings.Fields(l)
		return strings.HasPrefix(l, "Max processes") && len(f) >= 4 && f[2] == "77" && f[3] == "88"
	}) {
		t.Errorf("limits lack nproc 77/88:\n%s", strings.Join(limits, "\n"))
	}

	secretDir := filepath.Join(opts.RunDir, "containers", svc.ID(), "files")
	if err := Cleanup(context.Background(), opts, svc.ID()); err != nil {
		t.Fatal(err)
	}
	reap(pid)
	assertNothingLeft(t, opts, unit, svc.ID())
	if _, err := os.Stat(secretDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("secrets left at %s", secretDir)
	}
	if b, err := os.ReadFile(filepath.Join(vol, "written")); err != nil || string(b) != "v\n" {
		t.Errorf("named volume did not survive cleanup: %q %v", b, err)
	}
}

// TestRunFailureRemovesVolumeItCreated: a start that fails after creating a
// named volume removes it again; an existing volume is left alone.
func TestRunFailureRemovesVolumeItCreated(t *testing.T) {
	requireRoot(t)
	enterTestCgroup(t)
	unit, err := unitCgroup()
	if err != nil {
		t.Fatal(err)
	}
	opts := testOptions(t)
	svc := &model.Service{Project: "berthtest", Name: "fail", Image: "test/busybox", Command: []string{"/no/such/binary"},
		Mounts: []model.Mount{{Type: model.MountVolume, Source: "berthtest_new", Target: "/data"}},
		Files:  []model.FileMount{{Secret: true, Name: "pw", Target: "/run/secrets/pw", Content: []byte("x")}}}
	err = run(context.Background(), opts, svc, testDeps(t, busyboxRootfs(t), os.Stdout))
	if err == nil {
		t.Fatal("run of a missing binary succeeded")
	}
	assertNothingLeft(t, opts, unit, svc.ID())
	if _, err := os.Stat(filepath.Dir(VolumePath(opts.StateDir, "berthtest_new"))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("volume created by a failed start is left: %v", err)
	}

	svc.Mounts = append(svc.Mounts, model.Mount{Type: model.MountBind, Source: "/etc", SubPath: "../..", Target: "/x"})
	err = run(context.Background(), opts, svc, testDeps(t, busyboxRootfs(t), os.Stdout))
	if err == nil || !strings.Contains(err.Error(), "sub_path") {
		t.Fatalf("run with an escaping sub_path = %v", err)
	}
	assertNothingLeft(t, opts, unit, svc.ID())
	if _, err := os.Stat(filepath.Dir(VolumePath(opts.StateDir, "berthtest_new"))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("volume created by a failed start is left: %v", err)
	}
}

// TestRunPrivileged: every capability, no seccomp filter, the host's
// devices, a writable /sys, as docker's --privileged.
func TestRunPrivileged(t *testing.T) {
	e := newRunEnv(t)
	svc := &model.Service{Project: "berthtest", Name: "priv", Image: "test/busybox", Command: []string{"sleep", "30"},
		Security: model.Security{Privileged: true}}
	st := e.start(t, svc, busyboxRootfs(t))
	status := procStatus(t, st.Pid)
	if status["CapEff"] != procStatus(t, os.Getpid())["CapBnd"] {
		t.Errorf("privileged CapEff %s, want every capability (%s)", status["CapEff"], procStatus(t, os.Getpid())["CapBnd"])
	}
	if status["Seccomp"] != "0" {
		t.Errorf("privileged Seccomp %s, want 0 (no filter)", status["Seccomp"])
	}
	root := fmt.Sprintf("/proc/%d/root", st.Pid)
	for _, dev := range []string{"/dev/loop-control", "/dev/mem", "/dev/kmsg"} {
		if _, err := os.Stat(dev); err != nil {
			continue
		}
		if _, err := os.Stat(root + dev); err != nil {
			t.Errorf("host device %s missing in the privileged container: %v", dev, err)
		}
	}
	for _, line := range readLines(t, fmt.Sprintf("/proc/%d/mountinfo", st.Pid)) {
		if f := strings.Fields(line); len(f) > 5 && f[4] == "/sys" && strings.Split(f[5], ",")[0] != "rw" {
			t.Errorf("/sys is not writable: %s", line)
		}
	}
}
