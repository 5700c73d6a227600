package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestGenerateSystemdHealthSockets: unit files from `generate systemd`
// pass systemd-analyze verify and behave as the transient units do
// without the agent: the .socket listens, the first connection starts the
// service, whose service_healthy dependency becomes active only after its
// first passing check, with its health timer running.
func TestGenerateSystemdHealthSockets(t *testing.T) {
	e := newBerthEnv(t)
	img, port := e.socketsServer()
	e.writeProject("gen", fmt.Sprintf(`services:
  db:
    image: %[1]s/busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 2; touch /tmp/ready; while true; do sleep 1; done"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 1s
      start_period: 30s
      start_interval: 300ms
  api:
    image: %[2]s
    command: ["sdhelper", "serve-fd3"]
    depends_on:
      db:
        condition: service_healthy
    x-berth:
      sockets:
        - listen: "127.0.0.1:%[3]d"
`, e.registry, img, port))
	out := e.mustBerth("generate", "systemd", "gen", "--output", "/etc/systemd/system")
	t.Logf("generate:\n%s", out)
	const api, sock, db, timer = "berth-gen-api.service", "berth-gen-api.socket", "berth-gen-db.service", "berth-gen-db-health.timer"
	for _, u := range []string{api, sock, db, timer, "berth-gen-db-health.service"} {
		if !strings.Contains(out, "/etc/systemd/system/"+u) {
			t.Errorf("generate did not write %s", u)
		}
	}
	if v := e.sh("systemd-analyze verify --man=no /etc/systemd/system/berth-gen-* 2>&1 || echo FAILED"); v != "" {
		t.Errorf("systemd-analyze verify:\n%s", v)
	}
	e.sh("systemctl daemon-reload")
	e.systemctl("enable", sock)
	e.systemctl("start", sock)
	if st := e.prop(api, "ActiveState"); st != "inactive" {
		t.Fatalf("%s is %s before any connection", api, st)
	}
	if st := e.prop(db, "ActiveState"); st != "inactive" {
		t.Fatalf("%s is %s before any connection", db, st)
	}

	body := e.socketsFirstGet(port, "berth-gen-*")
	if !strings.Contains(body, "served by pid=1 host=api fds=1") {
		t.Errorf("answer %q", body)
	}
	dbStart := e.healthTimestamp(db, "InactiveExitTimestampMonotonic")
	dbActive := e.healthTimestamp(db, "ActiveEnterTimestampMonotonic")
	apiStart := e.healthTimestamp(api, "InactiveExitTimestampMonotonic")
	t.Logf("db active %v after start; api started %v after that", dbActive-dbStart, apiStart-dbActive)
	if dbActive-dbStart < 2*time.Second || apiStart < dbActive {
		t.Errorf("ordering: db active after %v (marker at 2 s), api started at %v vs db active %v", dbActive-dbStart, apiStart, dbActive)
	}
	if st := e.prop(timer, "ActiveState"); st != "active" {
		t.Errorf("%s is %s", timer, st)
	}
	e.eventually(15*time.Second, "ps to show db healthy", func() bool {
		return e.healthPs()["db"].Health == "healthy"
	})

	e.systemctl("stop", api)
	if st := e.prop(sock, "ActiveState"); st != "inactive" {
		t.Errorf("stopping the service left its socket %s", st)
	}
	e.systemctl("stop", db)
	if st := e.prop(timer, "ActiveState"); st != "inactive" {
		t.Errorf("stopping db left its health timer %s", st)
	}
	e.systemctl("disable", sock)
}
