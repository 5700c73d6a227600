package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// storageCompose is a service with a named volume, a secret from a file and
// a config; cmd is its command's shell script.
func storageCompose(img, cmd string) string {
	return fmt.Sprintf(`secrets:
  pw:
    file: ./pw.txt
configs:
  conf:
    file: ./app.conf
volumes:
  data: {}
services:
  app:
    image: %s
    command: ["sh", "-c", %q]
    volumes:
      - data:/data
    secrets:
      - source: pw
        uid: "1000"
        gid: "1000"
        mode: 0400
    configs:
      - source: conf
        target: /etc/app.conf
`, img, cmd)
}

// TestStorageVolumeSecretConfig is what a compose user does with storage: a
// named volume keeps its files across recreation and `down`, and goes with
// `down --volumes`; a secret arrives with its declared owner and mode 0400;
// a config is read-only in the container.
func TestStorageVolumeSecretConfig(t *testing.T) {
	e := newBerthEnv(t)
	img := e.registry + "/busybox:latest"
	const unit = "berth-store-app.service"
	dir := filepath.Join(e.config, "store")
	e.writeProject("store", storageCompose(img,
		"echo hello > /data/keep; echo x > /etc/app.conf 2>/dev/null && echo conf-writable || echo conf-ro; exec sleep 1000"))
	for name, content := range map[string]string{"pw.txt": "hunter2", "app.conf": "listen=8080\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("apply:\n%s", e.mustBerth("apply", "store"))
	if st := e.prop(unit, "ActiveState"); st != "active" {
		t.Fatalf("%s is %s\n%s", unit, st, e.sh("journalctl --no-pager -n 30 -u "+unit))
	}
	e.eventually(10*time.Second, "the config write attempt", func() bool {
		return strings.Contains(e.sh("journalctl --no-pager -o cat -u "+unit), "conf-")
	})
	if j := e.sh("journalctl --no-pager -o cat -u " + unit); !strings.Contains(j, "conf-ro") {
		t.Errorf("the config was writable in the container:\n%s", j)
	}
	pid := e.mainPID(unit)
	root := fmt.Sprintf("/proc/%d/root", pid)
	if got := e.sh("stat -c '%u:%g %a' " + root + "/run/secrets/pw"); got != "1000:1000 400" {
		t.Errorf("secret owner and mode %q, want 1000:1000 400", got)
	}
	if got := e.sh("cat " + root + "/run/secrets/pw"); got != "hunter2" {
		t.Errorf("secret content %q", got)
	}
	if got := e.sh("cat " + root + "/etc/app.conf"); got != "listen=8080" {
		t.Errorf("config content %q", got)
	}
	if got := e.sh("stat -c '%a' " + root + "/etc/app.conf"); got != "444" {
		t.Errorf("config mode %s, want docker's default 444", got)
	}
	// The secret sits on the run dir's tmpfs, never in the state dir.
	if f := e.sh(fmt.Sprintf("grep -rl hunter2 %s || true", e.state)); f != "" {
		t.Errorf("secret content written to the state dir: %s", f)
	}
	if got := e.sh(fmt.Sprintf("cat %s/volumes/store_data/_data/keep", e.state)); got != "hello" {
		t.Errorf("volume on the host holds %q", got)
	}

	// Recreation: a new command, a new container, the same volume.
	e.writeProject("store", storageCompose(img, "cat /data/keep; exec sleep 1001"))
	if out := e.mustBerth("apply", "store"); !strings.Contains(out, "store/app: recreated") {
		t.Fatalf("apply after changing the command:\n%s", out)
	}
	newPID := e.mainPID(unit)
	if newPID == pid || newPID == 0 {
		t.Fatalf("not recreated: pid %d -> %d", pid, newPID)
	}
	if got := e.sh(fmt.Sprintf("cat /proc/%d/root/data/keep", newPID)); got != "hello" {
		t.Errorf("after recreation the volume holds %q, want hello", got)
	}

	// down keeps the volume; the next apply finds the file again.
	e.mustBerth("down", "store")
	if got := e.sh(fmt.Sprintf("cat %s/volumes/store_data/_data/keep", e.state)); got != "hello" {
		t.Errorf("after down the volume holds %q", got)
	}
	if f := e.runDirLeftovers(); f != "" {
		t.Errorf("left in the run dir after down (secrets must go):\n%s", f)
	}
	e.mustBerth("apply", "store")
	if got := e.sh(fmt.Sprintf("cat /proc/%d/root/data/keep", e.mainPID(unit))); got != "hello" {
		t.Errorf("after down and apply the volume holds %q", got)
	}

	// down --volumes removes it.
	out := e.mustBerth("down", "--volumes", "store")
	if !strings.Contains(out, "volume store_data: removed") {
		t.Errorf("down --volumes output:\n%s", out)
	}
	if got := e.sh(fmt.Sprintf("ls -A %s/volumes", e.state)); strings.Contains(got, "store_data") {
		t.Errorf("volume left after down --volumes: %s", got)
	}
	e.assertStorageNoTraces()
}

func (e *berthEnv) assertStorageNoTraces() {
	e.t.Helper()
	if m := e.sh("grep -E ' /run/berth' /proc/self/mountinfo || true"); m != "" {
		e.t.Errorf("mounts left under the run dir:\n%s", m)
	}
	if f := e.sh(fmt.Sprintf("find %s/containers -mindepth 1 2>/dev/null || true", e.state)); f != "" {
		e.t.Errorf("container dirs left in the state dir:\n%s", f)
	}
}
