package e2e

import (
	"strings"
	"testing"
)

// kubePaletteYAML is data only: a ConfigMap in a file of its own.
const kubePaletteYAML = `apiVersion: v1
kind: ConfigMap
metadata:
  name: palette
data:
  color: COLOR
`

// kubeWhoamiYAML reads the ConfigMap of palette.yaml and its own address
// and label through the downward API.
const kubeWhoamiYAML = `apiVersion: v1
kind: Pod
metadata:
  name: whoami
  labels:
    tier: edge-tier
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: app
    image: REGISTRY/busybox:latest
    command: [sh, -c, "echo started color=$COLOR ip=$POD_IP; exec sleep 3600"]
    env:
    - name: COLOR
      valueFrom:
        configMapKeyRef: {name: palette, key: color}
    - name: POD_IP
      valueFrom:
        fieldRef: {fieldPath: status.podIP}
    - name: TIER
      valueFrom:
        fieldRef: {fieldPath: "metadata.labels['tier']"}
`

// TestKubeDownwardAndNamespace: a pod reads a ConfigMap declared in another
// file of the config dir, its own address (status.podIP, which only the
// start knows) and a label; inside the running container the address is
// the one on its eth0. Editing the ConfigMap recreates the container, and
// only it, with the new value.
func TestKubeDownwardAndNamespace(t *testing.T) {
	e := newBerthEnv(t)
	e.kubeWrite("palette", strings.Replace(kubePaletteYAML, "COLOR", "teal", 1))
	e.kubeWrite("whoami", kubeWhoamiYAML)
	const app = "berth-whoami-app.service"
	out, err := e.berth("apply")
	t.Logf("apply:\n%s", out)
	if err != nil || e.prop(app, "ActiveState") != "active" {
		t.Fatalf("apply: %v\n%s", err, e.sh("journalctl --no-pager -n 80 -u 'berth-whoami*' || true"))
	}
	if strings.Contains(out, "palette") {
		t.Errorf("the data file palette.yaml became a project:\n%s", out)
	}

	inside := func() (color, tier, podIP, eth0 string) {
		t.Helper()
		out := e.mustBerth("exec", "whoami/app", "sh", "-c", `echo "$COLOR|$TIER|$POD_IP|$(ip -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1)"`)
		f := strings.Split(strings.TrimSpace(out), "|")
		if len(f) != 4 {
			t.Fatalf("exec output %q", out)
		}
		return f[0], f[1], f[2], f[3]
	}
	color, tier, podIP, eth0 := inside()
	if color != "teal" || tier != "edge-tier" {
		t.Errorf("in the container: COLOR=%q TIER=%q, want teal and edge-tier", color, tier)
	}
	if podIP == "" || podIP != eth0 {
		t.Errorf("in the container: POD_IP=%q, eth0 has %q", podIP, eth0)
	}
	if j := e.sh("journalctl --no-pager -u " + app); !strings.Contains(j, "started color=teal ip="+eth0) {
		t.Errorf("PID 1 did not start with the values:\n%s", j)
	}

	pid := e.mainPID(app)
	e.kubeWrite("palette", strings.Replace(kubePaletteYAML, "COLOR", "amber", 1))
	plan := e.mustBerth("plan")
	if !strings.Contains(plan, "~ recreate whoami/app") || strings.Contains(plan, "recreate whoami/.pod") {
		t.Errorf("plan after editing the ConfigMap:\n%s", plan)
	}
	t.Logf("apply after the edit:\n%s", e.mustBerth("apply"))
	if e.mainPID(app) == pid {
		t.Errorf("the container was not recreated")
	}
	if color, _, podIP2, eth0 := inside(); color != "amber" || podIP2 != eth0 {
		t.Errorf("after the edit: COLOR=%q POD_IP=%q eth0 %q", color, podIP2, eth0)
	}
}
