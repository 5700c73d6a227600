package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// kubePodYAML is a pod in the config dir: an init container that must
// finish before the app starts, a web server serving a ConfigMap file and
// logging a Secret it gets as env, a sidecar reading the server over the
// pod's shared localhost, and a container whose exec liveness probe starts
// failing after a few seconds.
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
  initContainers:
  - name: init
    image: REGISTRY/busybox:latest
    command: [sh, -c, "sleep 2; echo init-done > /work/marker; echo init finished"]
    volumeMounts:
    - {name: work, mountPath: /work}
  containers:
  - name: main
    image: REGISTRY/busybox:latest
    command: [sh, -c, "test -f /work/marker || { echo init did not run first; exit 3; }; echo password=$PASSWORD host=$(hostname); exec httpd -f -p 127.0.0.1:8080 -h /site"]
    env:
    - name: PASSWORD
      valueFrom:
        secretKeyRef: {name: creds, key: password}
    volumeMounts:
    - {name: work, mountPath: /work}
    - {name: site, mountPath: /site, readOnly: true}
  - name: sidecar
    image: REGISTRY/busybox:latest
    command: [sh, -c, "while true; do wget -q -O - http://127.0.0.1:8080/index.html; sleep 1; done"]
  - name: flaky
    image: REGISTRY/busybox:latest
    command: [sh, -c, "touch /tmp/alive; echo flaky started; sleep 4; rm /tmp/alive; exec sleep 3600"]
    livenessProbe:
      exec:
        command: [test, -f, /tmp/alive]
      periodSeconds: 1
      failureThreshold: 2
  volumes:
  - name: work
    emptyDir: {}
  - name: site
    configMap:
      name: site
`

const (
	kubePodUnit     = `berth-web.pod.service`
	kubeInitUnit    = "berth-web-init.service"
	kubeMainUnit    = "berth-web-main.service"
	kubeSidecarUnit = "berth-web-sidecar.service"
	kubeFlakyUnit   = "berth-web-flaky.service"
)

// TestKubePod runs Pod YAML from the config dir in a real systemd: shared
// localhost, init ordering, ConfigMap files, Secret env, liveness restarts,
// stopping the pod, and removing the file.
func TestKubePod(t *testing.T) {
	e := newBerthEnv(t)
	file := filepath.Join(e.config, "web.yaml")
	if err := os.WriteFile(file, []byte(strings.ReplaceAll(kubePodYAML, "REGISTRY", e.registry)), 0o644); err != nil {
		t.Fatal(err)
	}
	out := e.mustBerth("apply")
	t.Logf("apply:\n%s", out)
	units := []string{kubePodUnit, kubeMainUnit, kubeSidecarUnit, kubeFlakyUnit}
	for _, u := range units {
		if st := e.prop(u, "ActiveState"); st != "active" {
			t.Fatalf("%s is %s\n%s", u, st, e.sh("journalctl --no-pager -n 80 -u 'berth-web*' || true"))
		}
	}

	// The init container ran to completion before the app started.
	if r := e.prop(kubeInitUnit, "Result"); r != "success" {
		t.Errorf("init unit result %s", r)
	}
	initExit := e.prop(kubeInitUnit, "ExecMainExitTimestampMonotonic")
	mainStart := e.prop(kubeMainUnit, "ExecMainStartTimestampMonotonic")
	if initExit == "" || mainStart == "" || len(initExit) > len(mainStart) || len(initExit) == len(mainStart) && initExit > mainStart {
		t.Errorf("main started (%s) before init exited (%s)", mainStart, initExit)
	}

	// One network, IPC and UTS namespace for all containers, pinned by the
	// pod unit, and not the host's.
	nsOf := func(unit, ns string) string {
		return e.sh(fmt.Sprintf("readlink /proc/%d/ns/%s", e.mainPID(unit), ns))
	}
	for _, ns := range []string{"net", "ipc", "uts"} {
		m, s, f := nsOf(kubeMainUnit, ns), nsOf(kubeSidecarUnit, ns), nsOf(kubeFlakyUnit, ns)
		pin := e.sh("stat -L -c %i /run/berth/pods/web/" + ns)
		if m != s || m != f || !strings.Contains(m, "["+pin+"]") {
			t.Errorf("%s namespaces: main %s sidecar %s flaky %s, pinned inode %s", ns, m, s, f, pin)
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

	// The failing liveness probe gets the container restarted.
	flaky := e.mainPID(kubeFlakyUnit)
	e.eventually(45*time.Second, "the liveness probe to restart flaky", func() bool {
		p := e.mainPID(kubeFlakyUnit)
		return p != 0 && p != flaky
	})

	if out := e.mustBerth("plan"); !strings.Contains(out, "No changes.") {
		t.Errorf("plan right after apply:\n%s", out)
	}

	// Stopping the pod stops its containers; apply brings it all back.
	e.sh("systemctl stop " + kubePodUnit)
	for _, u := range []string{kubeMainUnit, kubeSidecarUnit, kubeFlakyUnit} {
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
	bad := strings.Replace(strings.ReplaceAll(kubePodYAML, "REGISTRY", e.registry), "periodSeconds: 1", "periodSeconds: often", 1)
	if err := os.WriteFile(file, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := e.berth("apply"); err == nil || !strings.Contains(out, file) || !strings.Contains(out, "line ") {
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
	if f := e.sh("find /run/berth -mindepth 1 2>/dev/null || true"); f != "" {
		t.Errorf("left in the run dir:\n%s", f)
	}
	if m := e.sh("grep -E ' /run/berth' /proc/self/mountinfo || true"); m != "" {
		t.Errorf("mounts left under the run dir:\n%s", m)
	}
}
