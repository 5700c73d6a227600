package e2e

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// pushImage builds a busybox image with opts and pushes it as
// REG/<repoTag>; it returns the reference.
func (e *berthEnv) pushImage(repoTag string, opts ...ImageOption) string {
	e.t.Helper()
	img, err := BuildBusybox(opts...)
	if err != nil {
		e.t.Fatal(err)
	}
	ref := e.registry + "/" + repoTag
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := remote.Write(r, img, remote.WithContext(ctx)); err != nil {
		e.t.Fatalf("pushing %s: %v", ref, err)
	}
	return ref
}

// appUserFiles are an image's /etc/passwd and /etc/group with an app user
// (1000:1000) beside root and nobody.
var appUserFiles = []File{
	{Path: "/etc/passwd", Content: []byte("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")},
	{Path: "/etc/group", Content: []byte("root:x:0:\napp:x:1000:\nnogroup:x:65534:\n")},
	{Path: "/home/app", Mode: fs.ModeDir | 0o755, UID: 1000, GID: 1000},
}

// nonrootImage is an image whose USER is app (1000:1000) and whose /data
// is owned by app with mode 0750, as images with a data dir ship it.
func nonrootImage() []ImageOption {
	files := append([]File{{Path: "/data", Mode: fs.ModeDir | 0o750, UID: 1000, GID: 1000}}, appUserFiles...)
	return []ImageOption{
		WithLayer(Layer{Files: files}),
		WithConfig(func(c *v1.Config) { c.User = "1000:1000" }),
	}
}

// dropperImage runs as root and drops to app in its entrypoint, after
// giving app the volume, as the postgres and redis images do with gosu. Its
// HEALTHCHECK needs root (/root is 0700): docker runs checks as the
// container's user, not as whoever PID 1 became.
func dropperImage() []ImageOption {
	entry := "#!/bin/sh\nset -e\nchown app:app /state\nexec su app -s /bin/sh -c \"$*\"\n"
	files := append([]File{{Path: "/entrypoint.sh", Content: []byte(entry), Mode: 0o755}}, appUserFiles...)
	return []ImageOption{
		WithLayer(Layer{Files: files}),
		WithEntrypoint("/entrypoint.sh"),
		WithConfig(func(c *v1.Config) {
			c.Healthcheck = &v1.HealthConfig{Test: []string{"CMD-SHELL", "ls /root >/dev/null && echo check-uid=$(id -u)"},
				Interval: time.Second, Timeout: 2 * time.Second, Retries: 1}
		}),
	}
}

const nonrootProject = `secrets:
  pw:
    file: ./pw.txt
volumes:
  data: {}
  state: {}
services:
  app:
    image: NONROOT
    command: ["sh", "-c", "id; ls / >/dev/null && echo ls-ok; echo v > /data/f && echo volume-ok; echo t > /scratch/f && echo tmpfs-ok; echo secret=$(cat /run/secrets/pw); exec sleep 1000"]
    group_add: ["4242"]
    volumes:
      - data:/data
    tmpfs:
      - /scratch
    secrets:
      - source: pw
        uid: "1000"
        mode: 0400
  plain:
    image: BUSYBOX
    user: "1000:1000"
    command: ["sh", "-c", "id; ls /; exec sleep 1000"]
  dropper:
    image: DROPPER
    command: ["id; echo s > /state/f && echo dropped-ok; exec sleep 1000"]
    volumes:
      - state:/state
`

// TestNonRootServices: an image whose USER is not root runs (it can list /
// and exec programs), writes its named volume (copied up with the image's
// owner and mode) and its tmpfs, reads a secret given to its uid and gets
// group_add; user: "1000:1000" on a root image works; a root entrypoint
// that drops privileges with su works.
func TestNonRootServices(t *testing.T) {
	e := newBerthEnv(t)
	p := strings.NewReplacer(
		"NONROOT", e.pushImage("nonroot:latest", nonrootImage()...),
		"BUSYBOX", e.registry+"/busybox:latest",
		"DROPPER", e.pushImage("dropper:latest", dropperImage()...),
	).Replace(nonrootProject)
	e.writeProject("nr", p)
	if err := os.WriteFile(filepath.Join(e.config, "nr", "pw.txt"), []byte("hunter2"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("apply:\n%s", e.mustBerth("apply", "nr"))

	journal := func(svc string) string { return e.sh("journalctl --no-pager -o cat -u berth-nr-" + svc + ".service") }
	for svc, want := range map[string][]string{
		"app":     {"uid=1000(app) gid=1000(app) groups=4242", "ls-ok", "volume-ok", "tmpfs-ok", "secret=hunter2"},
		"plain":   {"uid=1000 gid=1000", "bin"},
		"dropper": {"uid=1000(app) gid=1000(app)", "dropped-ok"},
	} {
		unit := "berth-nr-" + svc + ".service"
		e.eventually(20*time.Second, svc+"'s output", func() bool {
			return strings.Contains(journal(svc), want[len(want)-1]) || e.prop(unit, "ActiveState") == "failed"
		})
		if st := e.prop(unit, "ActiveState"); st != "active" {
			t.Errorf("%s is %s\n%s", unit, st, journal(svc))
			continue
		}
		j := journal(svc)
		for _, w := range want {
			if !strings.Contains(j, w) {
				t.Errorf("%s's journal lacks %q:\n%s", svc, w, j)
			}
		}
		if strings.Contains(j, "Permission denied") {
			t.Errorf("%s's journal:\n%s", svc, j)
		}
	}
	// The dropper's check ran as root, the container's user, while its
	// PID 1 runs as app.
	e.eventually(20*time.Second, "the dropper's check to pass", func() bool { return e.healthPs()["dropper"].Health == "healthy" })
	if d := e.healthPs()["dropper"].HealthDetail; d == nil || d.Health == nil || !strings.Contains(d.Health.LastOutput, "check-uid=0") {
		t.Errorf("the dropper's check did not run as root: %+v", d)
	}
	// The volume took the image's /data owner and mode (docker's copy-up).
	if got := e.sh(fmt.Sprintf("stat -c '%%u:%%g %%a' %s/volumes/nr_data/_data", e.state)); got != "1000:1000 750" {
		t.Errorf("volume nr_data is %s, want the image's 1000:1000 750", got)
	}
	if got := e.sh(fmt.Sprintf("stat -c '%%u:%%g' %s/volumes/nr_data/_data/f", e.state)); got != "1000:1000" {
		t.Errorf("the file app wrote is owned by %s", got)
	}
	// The container's / is the image's (root 0755); the state dirs above
	// its upper dir stay private.
	pid := e.mainPID("berth-nr-app.service")
	if got := e.sh(fmt.Sprintf("stat -c '%%u:%%g %%a' /proc/%d/root/", pid)); got != "0:0 755" {
		t.Errorf("container / is %s, want 0:0 755", got)
	}
	if got := e.sh(fmt.Sprintf("stat -c '%%a' %s/containers/nr-app", e.state)); got != "700" {
		t.Errorf("container state dir mode %s, want 700", got)
	}
}

// kubeNonRootYAML runs as uid 1000 with fsGroup 2000 and writes its claim
// and its emptyDir, which start out root's.
const kubeNonRootYAML = `apiVersion: v1
kind: Pod
metadata:
  name: nr
spec:
  terminationGracePeriodSeconds: 2
  securityContext:
    runAsUser: 1000
    runAsGroup: 1000
    fsGroup: 2000
  containers:
  - name: app
    image: REGISTRY/busybox:latest
    command: [sh, -c, "id; ls / >/dev/null && echo ls-ok; echo d > /data/f && echo claim-ok; echo s > /scratch/f && echo emptydir-ok; exec sleep 1000"]
    volumeMounts:
    - {name: data, mountPath: /data}
    - {name: scratch, mountPath: /scratch}
  volumes:
  - name: data
    persistentVolumeClaim: {claimName: nr-data}
  - name: scratch
    emptyDir: {}
`

// TestKubeNonRoot: a pod with runAsUser/runAsGroup runs as that user with
// fsGroup as a supplementary group, and writes its PersistentVolumeClaim
// and emptyDir, which berth gives to the fsGroup as the kubelet does.
func TestKubeNonRoot(t *testing.T) {
	e := newBerthEnv(t)
	e.kubeWrite("nr", kubeNonRootYAML)
	t.Logf("apply:\n%s", e.mustBerth("apply"))
	const unit = "berth-nr-app.service"
	journal := func() string { return e.sh("journalctl --no-pager -o cat -u " + unit) }
	e.eventually(30*time.Second, "the pod's output", func() bool {
		return strings.Contains(journal(), "emptydir-ok") || e.prop(unit, "ActiveState") == "failed"
	})
	j := journal()
	for _, want := range []string{"uid=1000 gid=1000 groups=2000", "ls-ok", "claim-ok", "emptydir-ok"} {
		if !strings.Contains(j, want) {
			t.Errorf("journal lacks %q:\n%s", want, j)
		}
	}
	if got := e.sh(fmt.Sprintf("stat -c '%%g %%a' %s/volumes/nr_nr-data/_data", e.state)); got != "2000 2775" {
		t.Errorf("the claim's volume is %s, want group 2000, mode 2775", got)
	}
}
