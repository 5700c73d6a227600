package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestExecPod: berth exec and cp reach a named container of a Kubernetes
// pod: the sidecar shares the pod's localhost with main, and main's
// ConfigMap volume is seen through cp (paths resolve in the container's
// own mount namespace, volumes included).
func TestExecPod(t *testing.T) {
	e := newBerthEnv(t)
	e.kubeWrite("web", kubePodYAML)
	e.mustBerth("apply")
	for _, u := range []string{kubeMainUnit, kubeSidecarUnit} {
		e.eventually(30*time.Second, u+" to run", func() bool { return e.prop(u, "ActiveState") == "active" })
	}
	var out string
	e.eventually(20*time.Second, "main's server to answer the sidecar", func() bool {
		out, _ = e.berth("exec", "web/sidecar", "wget", "-q", "-O", "-", "http://127.0.0.1:8080/index.html")
		return strings.Contains(out, "hello-from-configmap")
	})
	if out := e.mustBerth("exec", "sidecar", "sh", "-c", "echo $HOSTNAME; test -e /site && echo has-site || echo no-site"); !strings.Contains(out, "no-site") {
		t.Errorf("exec into the sidecar ran in main's mount namespace:\n%s", out)
	}
	if out := e.mustBerth("exec", "web/main", "sh", "-c", "echo $PASSWORD"); strings.TrimSpace(out) != "s3cr3t-value" {
		t.Errorf("exec in web/main does not see the pod's env: %q", out)
	}
	tarball := e.sh("env " + e.bin + " --config-dir " + e.config + " --state-dir " + e.state + " cp web/main:/site/index.html - | tar -xO")
	if tarball != "hello-from-configmap" {
		t.Errorf("cp out of main's ConfigMap volume gave %q", tarball)
	}
}
