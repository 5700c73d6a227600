package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// healthChainProject: db becomes healthy only once /tmp/ready exists (3 s
// after start); web depends on it being healthy; migrate is a job that must
// complete before worker starts.
const healthChainProject = `services:
  db:
    image: REG/busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3; touch /tmp/ready; while true; do sleep 1; done"]
    healthcheck:
      test: ["CMD-SHELL", "test -f /tmp/ready && echo db-ok"]
      interval: 1s
      timeout: 2s
      retries: 2
      start_period: 30s
      start_interval: 500ms
  web:
    image: REG/busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    depends_on:
      db:
        condition: service_healthy
  migrate:
    image: REG/busybox:latest
    command: ["sh", "-c", "sleep 1; echo migrated"]
    depends_on:
      db:
        condition: service_healthy
  worker:
    image: REG/busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    depends_on:
      migrate:
        condition: service_completed_successfully
`

// TestHealthServiceHealthyChain: a service_healthy dependent starts only
// after the dependency's first passing check, a completed_successfully
// dependent only after the job exited 0; berth ps shows health, and an
// unhealthy container shows as such.
func TestHealthServiceHealthyChain(t *testing.T) {
	e := newBerthEnv(t)
	e.writeProject("chain", strings.ReplaceAll(healthChainProject, "REG", e.registry))
	out := e.mustBerth("apply")
	t.Logf("apply:\n%s", out)

	const db, web, migrate, worker = "berth-chain-db.service", "berth-chain-web.service", "berth-chain-migrate.service", "berth-chain-worker.service"
	for _, u := range []string{db, web, worker} {
		if st := e.prop(u, "ActiveState"); st != "active" {
			t.Fatalf("%s is %s\n%s", u, st, e.sh("journalctl --no-pager -n 40 -u 'berth-chain-*'"))
		}
	}
	// db's unit became active only after its check passed (>= 3 s after
	// its launcher started), and web's launcher started after that.
	dbStart := e.healthTimestamp(db, "InactiveExitTimestampMonotonic")
	dbActive := e.healthTimestamp(db, "ActiveEnterTimestampMonotonic")
	webStart := e.healthTimestamp(web, "InactiveExitTimestampMonotonic")
	t.Logf("db active %v after its start, web started %v after that", dbActive-dbStart, webStart-dbActive)
	if dbActive-dbStart < 3*time.Second {
		t.Errorf("db became active %v after start, before its marker file (3 s) existed", dbActive-dbStart)
	}
	if webStart < dbActive {
		t.Errorf("web started %v before db was healthy", dbActive-webStart)
	}
	j := e.sh("journalctl --no-pager -o cat -u " + db)
	if !strings.Contains(j, "first passing health check") {
		t.Errorf("db's journal does not say it became ready by its health check:\n%s", j)
	}

	// The job ran to completion, its unit stays active (exited), and
	// worker started only after it had finished.
	if st, sub, res := e.prop(migrate, "ActiveState"), e.prop(migrate, "SubState"), e.prop(migrate, "Result"); st != "active" || sub != "exited" || res != "success" {
		t.Errorf("migrate: %s/%s result %s", st, sub, res)
	}
	if j := e.sh("journalctl --no-pager -o cat -u " + migrate); !strings.Contains(j, "migrated") {
		t.Errorf("migrate's output is not in its journal:\n%s", j)
	}
	migrateDone := e.healthTimestamp(migrate, "ActiveEnterTimestampMonotonic")
	workerStart := e.healthTimestamp(worker, "InactiveExitTimestampMonotonic")
	if workerStart < migrateDone {
		t.Errorf("worker started %v before migrate completed", migrateDone-workerStart)
	}
	if m := e.sh("grep -c ' /run/berth/containers/chain-migrate' /proc/self/mountinfo || true"); m != "0" {
		t.Errorf("the finished job's rootfs is still mounted")
	}

	// ps: db healthy (the timer keeps checking), services without a check
	// have no health.
	e.eventually(15*time.Second, "ps to show db healthy", func() bool {
		return e.healthPs()["db"].Health == "healthy"
	})
	rows := e.healthPs()
	if rows["web"].Health != "" {
		t.Errorf("web has no healthcheck but ps shows %q", rows["web"].Health)
	}
	if d := rows["db"].HealthDetail; d == nil || d.Health == nil || !strings.Contains(d.Health.LastOutput, "db-ok") {
		t.Errorf("ps json health detail of db: %+v", d)
	}
	table := e.mustBerth("ps")
	t.Logf("ps:\n%s", table)
	if !strings.Contains(table, "HEALTH") || !strings.Contains(table, "healthy") {
		t.Errorf("ps table lacks the health column")
	}

	// Editing db recreates it, and with it its required dependents
	// (Requires= stops them); the chain comes back in order.
	e.writeProject("chain", strings.Replace(strings.ReplaceAll(healthChainProject, "REG", e.registry), "retries: 2", "retries: 3", 1))
	out = e.mustBerth("apply")
	t.Logf("apply after editing db:\n%s", out)
	for _, want := range []string{"chain/db: recreated", "chain/web: recreated", "chain/migrate: recreated", "chain/worker: recreated"} {
		if !strings.Contains(out, want) {
			t.Errorf("apply lacks %q", want)
		}
	}
	for _, u := range []string{db, web, worker} {
		if st := e.prop(u, "ActiveState"); st != "active" {
			t.Fatalf("%s is %s after recreate\n%s", u, st, e.sh("journalctl --no-pager -n 40 -u 'berth-chain-*'"))
		}
	}
	if st := e.prop("berth-chain-db-health.timer", "ActiveState"); st != "active" {
		t.Errorf("db's health timer is %s after recreate", st)
	}
	e.eventually(15*time.Second, "ps to show the new db healthy", func() bool {
		return e.healthPs()["db"].Health == "healthy"
	})

	// The marker goes away: after retries (3) failing checks db is
	// unhealthy, and stays running (a healthcheck does not restart).
	pid := e.mainPID(db)
	e.sh("nsenter -t " + strconv.Itoa(pid) + " -m -p rm /tmp/ready")
	e.eventually(20*time.Second, "ps to show db unhealthy", func() bool {
		return e.healthPs()["db"].Health == "unhealthy"
	})
	if d := e.healthPs()["db"].HealthDetail; d.Health.FailingStreak < 3 {
		t.Errorf("unhealthy with failing streak %d", d.Health.FailingStreak)
	}
	if e.mainPID(db) != pid {
		t.Errorf("an unhealthy container was restarted")
	}

	e.mustBerth("down", "chain")
	if u := e.sh("systemctl list-units --all --plain --no-legend 'berth-chain-*'"); u != "" {
		e.eventually(10*time.Second, "chain units (incl. health timers) to be gone", func() bool {
			return e.sh("systemctl list-units --all --plain --no-legend 'berth-chain-*'") == ""
		})
	}
}

type healthPsRow struct {
	Service      string `json:"service"`
	Health       string `json:"health"`
	HealthDetail *struct {
		Health *struct {
			Status        string `json:"status"`
			FailingStreak int    `json:"failing_streak"`
			LastOutput    string `json:"last_output"`
		} `json:"health"`
	} `json:"health_detail"`
}

func (e *berthEnv) healthPs() map[string]healthPsRow {
	e.t.Helper()
	js, err := e.berthStdout("ps", "--format", "json")
	if err != nil {
		e.t.Fatalf("ps: %v\n%s", err, js)
	}
	var rows []healthPsRow
	if err := json.Unmarshal([]byte(js), &rows); err != nil {
		e.t.Fatalf("ps json: %v\n%s", err, js)
	}
	out := map[string]healthPsRow{}
	for _, r := range rows {
		out[r.Service] = r
	}
	return out
}

// healthTimestamp reads a monotonic timestamp property of unit.
func (e *berthEnv) healthTimestamp(unit, prop string) time.Duration {
	e.t.Helper()
	v, err := strconv.ParseInt(e.prop(unit, prop), 10, 64)
	if err != nil || v == 0 {
		e.t.Fatalf("%s %s = %q", unit, prop, e.prop(unit, prop))
	}
	return time.Duration(v) * time.Microsecond
}

// healthPushSDHelper builds hack/e2e/testdata/sdhelper statically and
// pushes a busybox image carrying it as /bin/sdhelper to REG/sdhelper:latest.
func (e *berthEnv) healthPushSDHelper() string {
	e.t.Helper()
	bin := filepath.Join(WorkDir(e.t), "sdhelper")
	cmd := exec.Command("go", "build", "-o", bin, "./testdata/sdhelper")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		e.t.Fatalf("building sdhelper: %v\n%s", err, out)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.pushImage("sdhelper:latest", WithLayer(Layer{Files: []File{{Path: "/bin/sdhelper", Content: b, Mode: 0o755}}}))
}

// TestHealthLivenessRestarts: a Kubernetes liveness probe that fails past
// its failureThreshold restarts the unit with a new container; the
// readiness side (ps) starts over.
func TestHealthLivenessRestarts(t *testing.T) {
	e := newBerthEnv(t)
	pod := `apiVersion: v1
kind: Pod
metadata:
  name: live
spec:
  containers:
    - name: app
      image: REG/busybox:latest
      command: ["sh", "-c", "trap 'exit 0' TERM; touch /tmp/alive; while true; do sleep 1; done"]
      livenessProbe:
        exec:
          command: ["test", "-f", "/tmp/alive"]
        periodSeconds: 1
        failureThreshold: 2
`
	if err := os.WriteFile(filepath.Join(e.config, "live.yaml"), []byte(strings.ReplaceAll(pod, "REG", e.registry)), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("apply:\n%s", e.mustBerth("apply"))
	unit := e.sh("systemctl list-units --all --plain --no-legend --type=service 'berth-live*' | awk '{print $1}' | grep -v health | grep app")
	if st := e.prop(unit, "ActiveState"); st != "active" {
		t.Fatalf("%s is %s", unit, st)
	}
	e.eventually(15*time.Second, "ps to show the liveness probe passing", func() bool {
		return strings.Contains(e.mustBerth("ps"), "healthy")
	})
	old := e.mainPID(unit)
	e.sh("nsenter -t " + strconv.Itoa(old) + " -m -p rm /tmp/alive")
	e.eventually(30*time.Second, "the unit to be restarted with a new container", func() bool {
		p := e.mainPID(unit)
		return p != 0 && p != old && e.prop(unit, "ActiveState") == "active"
	})
	healthUnit := strings.TrimSuffix(unit, ".service") + "-health.service"
	if j := e.sh("journalctl --no-pager -o cat -u " + healthUnit); !strings.Contains(j, "liveness probe failed; restarting") {
		t.Errorf("health unit journal:\n%s", j)
	}
	e.assertContainerIsMainProcess(unit)
	// The new container is live again and the timer still runs.
	e.eventually(15*time.Second, "the new container's liveness to pass", func() bool {
		return strings.Contains(e.mustBerth("ps"), "healthy")
	})
}
