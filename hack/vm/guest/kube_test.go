//go:build vmguest

package guest

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// kubeUnits are the units of the Kubernetes file testKube applies: a Pod
// and a Deployment in one file, each its own pod unit in project "shop",
// their containers named <pod>-<container>.
var kubeUnits = []string{
	"berth-shop.front.pod.service", "berth-shop.orders.pod.service",
	`berth-shop-front\x2dweb.service`, `berth-shop-orders\x2dweb.service`,
}

// testKube runs what a Kubernetes user brings: a file with two workloads
// of the non-root image, a ConfigMap from another file of the config dir,
// a hostPort, and one pod reaching the other by its name.
func testKube(t *testing.T) {
	writeFile(t, configDir+"/shop-settings.yaml", `apiVersion: v1
kind: ConfigMap
metadata:
  name: shop-settings
data:
  GREETING: hello-from-configmap
`, 0o644)
	writeFile(t, configDir+"/shop.yaml", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: front
spec:
  containers:
  - name: web
    image: %[1]s/vm/app:latest
    command: [sh, -c, "mkdir -p www && echo $GREETING > www/greeting && id > www/id && until wget -q -O www/orders http://orders:8080/; do sleep 1; done; exec httpd -f -p 8080 -h www"]
    env:
    - name: GREETING
      valueFrom:
        configMapKeyRef: {name: shop-settings, key: GREETING}
    ports:
    - containerPort: 8080
      hostPort: 18085
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: orders
spec:
  selector:
    matchLabels: {app: orders}
  template:
    metadata:
      labels: {app: orders}
    spec:
      containers:
      - name: web
        image: %[1]s/vm/app:latest
        command: [sh, -c, "mkdir -p www && { printf orders-; id -u; } > www/index.html && exec httpd -f -p 8080 -h www"]
`, registry), 0o644)
	out, err := runErr("berth", "apply")
	t.Logf("apply (err %v):\n%s", err, out)
	if err != nil {
		t.Errorf("berth apply: %v", err)
	}
	waitActive(t, 3*time.Minute, kubeUnits...)
	checkKube(t)
}

// checkKube asserts what the shop pods serve; boot 2 runs it again on the
// units the agent rebuilt.
func checkKube(t *testing.T) {
	for _, u := range kubeUnits {
		if !strings.Contains(u, ".pod.") {
			assertContainerIsMainProcess(t, u)
		}
	}
	if got := getEventually(t, time.Minute, "http://127.0.0.1:18085/orders"); got != "orders-1000\n" {
		t.Errorf("front fetched %q from http://orders:8080/, want orders-1000 (the other pod, as uid 1000)", got)
	}
	if got := getEventually(t, 10*time.Second, "http://127.0.0.1:18085/greeting"); got != "hello-from-configmap\n" {
		t.Errorf("front's GREETING from the ConfigMap in shop-settings.yaml is %q", got)
	}
	if id := getEventually(t, 10*time.Second, "http://127.0.0.1:18085/id"); !strings.Contains(id, "uid=1000") {
		t.Errorf("front runs as %q; the image's USER is 1000", id)
	}
	ps := run(t, "berth", "ps")
	for _, svc := range []string{"shop/front-web", "shop/orders-web"} {
		if !hasRow(ps, svc, "active") {
			t.Errorf("berth ps has no active %s:\n%s", svc, ps)
		}
	}
}
