package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// kubePodYAML is a pod in the config dir: a web server serving a
// ConfigMap file and logging a Secret it gets as env, and a sidecar reading
// the server over the pod's shared localhost.
const kubePodYAML = `apiVersion: v1
kind: ConfigMap
metadata:
  name: site
data:
  index.html: "hello-from-configmap\n"
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
stringData:
  password: s3cr3t-value
---
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: main
    image: REGISTRY/busybox:latest
    command: [sh, -c, "echo password=$PASSWORD host=$(hostname); exec httpd -f -p 127.0.0.1:8080 -h /site"]
    env:
    - name: PASSWORD
      valueFrom:
        secretKeyRef: {name: creds, key: password}
    volumeMounts:
    - {name: site, mountPath: /site, readOnly: true}
  - name: sidecar
    image: REGISTRY/busybox:latest
    command: [sh, -c, "while true; do wget -q -O - http://127.0.0.1:8080/index.html; sleep 1; done"]
  volumes:
  - name: site
    configMap:
      name: site
`

// kubeInitLivenessYAML is a pod whose app container only runs if its init
// container finished first, and whose exec liveness probe starts failing
// after a few seconds.
const kubeInitLivenessYAML = `apiVersion: v1
kind: Pod
metadata:
  name: probe
spec:
  terminationGracePeriodSeconds: 2
  initContainers:
  - name: init
    image: REGISTRY/busybox:latest
    command: [sh, -c, "sleep 2; echo init-done > /work/marker; echo init finished"]
    volumeMounts:
    - {name: work, mountPath: /work}
  containers:
  - name: flaky
    image: REGISTRY/busybox:latest
    command: [sh, -c, "test -f /work/marker || { echo init did not run first; exit 3; }; touch /tmp/alive; echo flaky started; sleep 4; rm /tmp/alive; exec sleep 3600"]
    volumeMounts:
    - {name: work, mountPath: /work}
    livenessProbe:
      exec:
        command: [test, -f, /tmp/alive]
      periodSeconds: 1
      failureThreshold: 2
  volumes:
  - name: work
    emptyDir: {}
`

// kubeWrite writes a manifest into the config dir with the test registry.
func (e *berthEnv) kubeWrite(name, manifest string) string {
	e.t.Helper()
	file := filepath.Join(e.config, name+".yaml")
	if err := os.WriteFile(file, []byte(strings.ReplaceAll(manifest, "REGISTRY", e.registry)), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return file
}

const (
	kubePodUnit     = `berth-web.pod.service`
	kubeMainUnit    = "berth-web-main.service"
	kubeSidecarUnit = "berth-web-sidecar.service"
)

// TestKubePod runs Pod YAML from the config dir in a real systemd: shared
// localhost, ConfigMap files, Secret env, stopping the pod, a broken edit,
// and removing the file.
func TestKubePod(t *testing.T) {
	e := newBerthEnv(t)
	file := e.kubeWrite("web", kubePodYAML)
	out := e.mustBerth("apply")
	t.Logf("apply:\n%s", out)
	units := []string{kubePodUnit, kubeMainUnit, kubeSidecarUnit}
	for _, u := range units {
		if st := e.prop(u, "ActiveState"); st != "active" {
			t.Fatalf("%s is %s\n%s", u, st, e.sh("journalctl --no-pager -n 80 -u 'berth-web*' || true"))
		}
	}

	// One network, IPC and UTS namespace for all containers, pinned by the
	// pod unit, and not the host's.
	nsOf := func(unit, ns string) string {
		return e.sh(fmt.Sprintf("readlink /proc/%d/ns/%s", e.mainPID(unit), ns))
	}
	for _, ns := range []string{"net", "ipc", "uts"} {
		m, s := nsOf(kubeMainUnit, ns), nsOf(kubeSidecarUnit, ns)
		pin := e.sh("stat -L -c %i /run/berth/pods/web/" + ns)
		if m != s || !strings.Contains(m, "["+pin+"]") {
			t.Errorf("%s namespaces: main %s sidecar %s, pinned inode %s", ns, m, s, pin)
		}
		if host := e.sh("readlink /proc/self/ns/" + ns); host == m {
			t.Errorf("pod shares the host's %s namespace", ns)
		}
	}

	// The sidecar reads the main container's ConfigMap file over localhost;
	// the Secret arrived as env; the hostname is the pod's.
	e.eventually(20*time.Second, "the sidecar to fetch the page over localhost", func() bool {
		return strings.Contains(e.sh("journalctl --no-pager -u "+kubeSidecarUnit), "hello-from-configmap")
	})
	if j := e.sh("journalctl --no-pager -u " + kubeMainUnit); !strings.Contains(j, "password=s3cr3t-value host=web") {
		t.Errorf("main's journal lacks the secret env and pod hostname:\n%s", j)
	}

	if out := e.mustBerth("plan"); !strings.Contains(out, "No changes.") {
		t.Errorf("plan right after apply:\n%s", out)
	}

	// Stopping the pod stops its containers; apply brings it all back.
	e.sh("systemctl stop " + kubePodUnit)
	for _, u := range []string{kubeMainUnit, kubeSidecarUnit} {
		if st := e.prop(u, "ActiveState"); st == "active" {
			t.Errorf("%s still %s after the pod unit stopped", u, st)
		}
	}
	if f := e.sh("ls /run/berth/pods 2>/dev/null || true"); f != "" {
		t.Errorf("pod pins left after stop: %s", f)
	}
	out = e.mustBerth("apply")
	t.Logf("apply after stopping the pod:\n%s", out)
	for _, u := range units {
		if st := e.prop(u, "ActiveState"); st != "active" {
			t.Errorf("%s is %s after re-apply", u, st)
		}
	}

	// A broken edit keeps everything running and names file and line.
	pid := e.mainPID(kubeMainUnit)
	bad := strings.Replace(strings.ReplaceAll(kubePodYAML, "REGISTRY", e.registry), "terminationGracePeriodSeconds: 2", "terminationGracePeriodSeconds: soon", 1)
	if err := os.WriteFile(file, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := e.berth("apply"); err == nil || !regexp.MustCompile(regexp.QuoteMeta(file)+`:\d+: `).MatchString(out) {
		t.Errorf("apply of a broken pod: err=%v, want file and line in:\n%s", err, out)
	}
	if e.mainPID(kubeMainUnit) != pid {
		t.Errorf("a broken file disturbed the running pod")
	}

	// Removing the file removes the pod and every container.
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	out = e.mustBerth("apply")
	t.Logf("apply after removing the file:\n%s", out)
	e.eventually(20*time.Second, "the pod's units to be gone", func() bool {
		return !strings.Contains(e.sh("systemctl list-units --all --plain --no-legend 'berth-*'"), "berth-web")
	})
	if f := e.runDirLeftovers(); f != "" {
		t.Errorf("left in the run dir:\n%s", f)
	}
	if m := e.sh("grep -E ' /run/berth' /proc/self/mountinfo || true"); m != "" {
		t.Errorf("mounts left under the run dir:\n%s", m)
	}
}

// TestKubeInitAndLiveness: an init container runs to completion before the
// app container starts, and a failing exec liveness probe restarts the app.
func TestKubeInitAndLiveness(t *testing.T) {
	e := newBerthEnv(t)
	e.kubeWrite("probe", kubeInitLivenessYAML)
	const initUnit, flakyUnit = "berth-probe-init.service", "berth-probe-flaky.service"
	out, err := e.berth("apply")
	t.Logf("apply:\n%s", out)
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, e.sh("journalctl --no-pager -n 80 -u 'berth-probe*' || true"))
	}
	if r := e.prop(initUnit, "Result"); r != "success" {
		t.Errorf("init unit result %s", r)
	}
	if st := e.prop(flakyUnit, "ActiveState"); st != "active" {
		t.Fatalf("%s is %s\n%s", flakyUnit, st, e.sh("journalctl --no-pager -n 80 -u 'berth-probe*' || true"))
	}
	initExit, _ := strconv.ParseUint(e.prop(initUnit, "ExecMainExitTimestampMonotonic"), 10, 64)
	appStart, _ := strconv.ParseUint(e.prop(flakyUnit, "ExecMainStartTimestampMonotonic"), 10, 64)
	if initExit == 0 || appStart < initExit {
		t.Errorf("app started at %d, before init exited at %d", appStart, initExit)
	}
	if j := e.sh("journalctl --no-pager -u " + flakyUnit); strings.Contains(j, "init did not run first") {
		t.Errorf("the app ran before its init container:\n%s", j)
	}

	flaky := e.mainPID(flakyUnit)
	e.eventually(45*time.Second, "the liveness probe to restart the container", func() bool {
		p := e.mainPID(flakyUnit)
		return p != 0 && p != flaky
	})
}
