package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// autoUpdateRow is the part of `berth auto-update --format json` the tests read.
type autoUpdateRow struct {
	Unit    string `json:"unit"`
	Service string `json:"service"`
	Image   string `json:"image"`
	Policy  string `json:"policy"`
	From    string `json:"from"`
	To      string `json:"to"`
	Result  string `json:"result"`
	Error   string `json:"error"`
	Reason  string `json:"reason"`
}

// TestAutoUpdateDryRun is the check half of issue 7: after a tag moves, the
// dry run names the services that would be updated, asks the registry once
// for an image two services share, touches no running container, and `berth
// plan` shows the pending update from the lockfile. Then the registry goes
// away: the run fails per image, exits non-zero, and nothing changes.
func TestAutoUpdateDryRun(t *testing.T) {
	reg := StartRegistry(t)
	wd := WorkDir(t)
	e := berthEnvIn(t, wd, "")
	v1img, err := BuildBusybox()
	if err != nil {
		t.Fatal(err)
	}
	v1 := reg.Push(t, reg.Ref("app:stable"), v1img)
	// berth reaches the registry only through the gate, inside the
	// sandbox's own netns (its bridges and rules stay off the host).
	e.sb = BootSystemd(t, WithNetNS())
	gate := autoupdateGate(t, e.sb, reg.Addr())
	e.registry = gate.addr
	ref := gate.addr + "/app:stable" // the same repository, through the gate

	e.writeProject("upd", fmt.Sprintf(`services:
  a:
    image: %[1]s
    command: [sleep, "600"]
    labels:
      io.containers.autoupdate: registry
  b:
    image: %[1]s
    command: [sleep, "600"]
    labels:
      io.containers.autoupdate: registry
  manual:
    image: %[1]s
    command: [sleep, "600"]
  loc:
    image: %[1]s
    command: [sleep, "600"]
    labels:
      io.containers.autoupdate: local
  pinned:
    image: %[2]s
    command: [sleep, "600"]
    labels:
      io.containers.autoupdate: registry
`, ref, gate.addr+"/app@"+v1))
	e.mustBerth("apply")
	units := []string{"berth-upd-a.service", "berth-upd-b.service", "berth-upd-manual.service",
		"berth-upd-loc.service", "berth-upd-pinned.service"}
	pids := map[string]int{}
	for _, u := range units {
		if st := e.prop(u, "ActiveState"); st != "active" {
			t.Fatalf("%s is %s\n%s", u, st, e.sh("journalctl --no-pager -n 50 -u '"+u+"' || true"))
		}
		pids[u] = e.mainPID(u)
	}

	// Nothing moved yet: unchanged.
	rows := e.autoUpdateJSON(true, "--dry-run")
	if r := rows["berth-upd-a.service"]; r.Result != "unchanged" || r.From != v1 || r.To != v1 {
		t.Errorf("before the tag moved: %+v; want unchanged at %s", r, v1)
	}

	v2img, err := BuildBusybox(WithFile("/etc/version", []byte("v2\n")))
	if err != nil {
		t.Fatal(err)
	}
	v2 := reg.Push(t, reg.Ref("app:stable"), v2img) // resets the counters
	if v2 == v1 {
		t.Fatalf("v2 has v1's digest %s", v1)
	}

	rows = e.autoUpdateJSON(true, "--dry-run")
	for _, u := range units[:2] {
		r := rows[u]
		if r.Result != "pending" || r.From != v1 || r.To != v2 || r.Policy != "registry" || r.Image != ref {
			t.Errorf("%s: %+v; want pending %s -> %s", u, r, v1, v2)
		}
	}
	if r := rows["berth-upd-manual.service"]; r.Result != "disabled" || r.To != "" {
		t.Errorf("service without the label: %+v; want disabled", r)
	}
	// local compares with the local store, which still records v1.
	if r := rows["berth-upd-loc.service"]; r.Result != "unchanged" || r.From != v1 || r.To != v1 || r.Policy != "local" {
		t.Errorf("local policy: %+v; want unchanged at %s", r, v1)
	}
	if r := rows["berth-upd-pinned.service"]; r.Result != "pinned" || r.To != "" {
		t.Errorf("image pinned by digest: %+v; want pinned", r)
	}
	heads := reg.HeadCounts()
	if n := heads["/v2/app/manifests/stable"]; n != 1 || reg.HeadCount() != 1 {
		t.Errorf("HEAD requests %v; want exactly one for /v2/app/manifests/stable", heads)
	}

	table := e.mustBerth("auto-update", "--dry-run")
	t.Logf("auto-update --dry-run:\n%s", table)
	for _, want := range []string{"UNIT", "FROM→TO", "berth-upd-a.service", "upd/b", "pending", "disabled", v2[:19]} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q", want)
		}
	}
	// plan shows the pending update from the lockfile, asking no registry.
	reg.ResetCounts()
	plan := e.mustBerth("plan")
	t.Logf("plan:\n%s\nlockfile:\n%s", plan, e.sh("cat "+filepath.Join(e.state, "images.lock.json")))
	for _, want := range []string{"update upd/a", "update upd/b", v1[:19] + " → " + v2[:19]} {
		if !strings.Contains(plan, want) {
			t.Errorf("plan lacks %q", want)
		}
	}
	if strings.Contains(plan, "update upd/manual") || strings.Contains(plan, "update upd/loc") || reg.HeadCount() != 0 {
		t.Errorf("plan lists a service without the registry policy, or asked the registry (%d HEADs)", reg.HeadCount())
	}

	// The registry goes away: every registry check fails, the run exits
	// non-zero, says so per unit, and changes nothing.
	gate.stop()
	out, err := e.berth("auto-update")
	t.Logf("auto-update with the registry stopped:\n%s", out)
	if err == nil || !strings.Contains(out, "failed") || !strings.Contains(out, "connection refused") {
		t.Errorf("auto-update with the registry stopped: err=%v; want exit 1 and failed rows", err)
	}
	rows = e.autoUpdateJSON(false)
	for _, u := range units[:2] {
		if r := rows[u]; r.Result != "failed" || r.Error == "" {
			t.Errorf("%s: %+v; want failed with the registry error", u, r)
		}
	}
	if r := rows["berth-upd-loc.service"]; r.Result != "unchanged" {
		t.Errorf("local policy needs no registry: %+v", r)
	}
	for _, u := range units {
		if p := e.mainPID(u); p != pids[u] {
			t.Errorf("%s was restarted: main PID %d -> %d", u, pids[u], p)
		}
	}
	if ps := e.autoupdatePs(); ps["berth-upd-a.service"] != v1 {
		t.Errorf("ps digest of a: %s; want still %s", ps["berth-upd-a.service"], v1)
	}
	e.mustBerth("down", "upd")
}

// TestAutoUpdateRollback is issue 7's update story against a real registry
// and a real systemd: v1 → v2 updates two services sharing an image (one
// HEAD); v3, whose command exits 1, is rolled back to v2,
// recorded bad and skipped on the next run; v4 is tried and kept; images no
// service or rollback target uses are pruned.
func TestAutoUpdateRollback(t *testing.T) {
	reg := StartRegistry(t)
	wd := WorkDir(t)
	e := berthEnvIn(t, wd, reg.Addr())
	build := func(version string, cmd ...string) string {
		t.Helper()
		img, err := BuildBusybox(WithCmd(cmd...), WithFile("/etc/version", []byte(version+"\n")))
		if err != nil {
			t.Fatal(err)
		}
		return reg.Push(t, reg.Ref("app:stable"), img)
	}
	ref := reg.Ref("app:stable")
	v1 := build("v1", "sleep", "600")
	e.sb = BootSystemd(t, WithNetNS(reg.Addr()))
	if err := os.WriteFile(filepath.Join(e.config, "berth.yaml"), []byte("autoupdate:\n  soak: 2s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// worker shares app's image and depends on it: app is updated first,
	// and when app fails, worker (which systemd restarted or stopped with
	// it) ends on the previous image too.
	e.writeProject("roll", fmt.Sprintf(`services:
  worker:
    image: %[1]s
    restart: always
    init: true
    depends_on: [app]
    labels:
      io.containers.autoupdate: registry
  app:
    image: %[1]s
    restart: always
    init: true
    labels:
      io.containers.autoupdate: registry
`, ref))
	e.mustBerth("apply")
	const app, worker = "berth-roll-app.service", "berth-roll-worker.service"
	for _, u := range []string{app, worker} {
		if st := e.prop(u, "ActiveState"); st != "active" {
			t.Fatalf("%s is %s\n%s", u, st, e.sh("journalctl --no-pager -n 50 -u '"+u+"' || true"))
		}
	}
	if ps := e.autoupdatePs(); ps[app] != v1 || ps[worker] != v1 {
		t.Fatalf("ps before updating: %v; want %s", ps, v1)
	}

	// v2: both updated, one HEAD for the tag, ps shows v2.
	v2 := build("v2", "sleep", "600")
	pids := map[string]int{app: e.mainPID(app), worker: e.mainPID(worker)}
	start := time.Now()
	rows := e.autoUpdateJSON(true)
	t.Logf("update to v2 took %s", time.Since(start).Round(time.Millisecond))
	for _, u := range []string{app, worker} {
		if r := rows[u]; r.Result != "updated" || r.From != v1 || r.To != v2 {
			t.Errorf("%s: %+v; want updated %s -> %s", u, r, v1, v2)
		}
		if p := e.mainPID(u); p == pids[u] || e.prop(u, "ActiveState") != "active" {
			t.Errorf("%s not recreated: main PID %d -> %d", u, pids[u], p)
		}
	}
	if n := reg.HeadCounts()["/v2/app/manifests/stable"]; n != 1 {
		t.Errorf("HEADs on the tag during the update: %v; want 1", reg.HeadCounts())
	}
	if ps := e.autoupdatePs(); ps[app] != v2 || ps[worker] != v2 {
		t.Errorf("ps after updating: %v; want %s", ps, v2)
	}
	if got := e.sh(fmt.Sprintf("cat /proc/%d/root/etc/version", e.mainPID(app))); got != "v2" {
		t.Errorf("app's container has version %q, want v2", got)
	}
	// v3 exits 1 at once: rolled back to v2, exit non-zero, recorded bad.
	v3 := build("v3", "sh", "-c", "echo v3 is broken; exit 1")
	pids = map[string]int{app: e.mainPID(app), worker: e.mainPID(worker)}
	out, err := e.berth("auto-update")
	t.Logf("auto-update to v3:\n%s", out)
	if err == nil || !strings.Contains(out, "rolled-back") {
		t.Errorf("auto-update to a crashing v3: err=%v; want exit 1 and rolled-back", err)
	}
	events := e.autoupdateHistory()
	last := events[len(events)-1]
	if last.Unit != app || last.Result != "rolled-back" || last.From != v2 || last.To != v3 || last.Reason == "" {
		t.Errorf("history's last event: %+v; want app rolled back %s -> %s with a reason", last, v3, v2)
	}
	if ps := e.autoupdatePs(); ps[app] != v2 || ps[worker] != v2 {
		t.Errorf("ps after the rollback: %v; want %s", ps, v2)
	}
	for _, u := range []string{app, worker} {
		if st := e.prop(u, "ActiveState"); st != "active" {
			t.Errorf("%s is %s after the rollback", u, st)
		}
	}
	// The log (the journal, under the timer unit or the agent) says it too.
	logged := false
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "auto-update result") && strings.Contains(line, "rolled-back") &&
			strings.Contains(line, v2) && strings.Contains(line, v3) {
			logged = true
		}
	}
	if !logged {
		t.Errorf("no log line with the rollback and both digests")
	}

	// Next run: v3 is skipped, nothing restarts, exit 0.
	pids = map[string]int{app: e.mainPID(app), worker: e.mainPID(worker)}
	rows = e.autoUpdateJSON(true)
	for _, u := range []string{app, worker} {
		if r := rows[u]; r.Result != "skipped" || r.To != v3 || !strings.Contains(r.Reason, "rolled back") {
			t.Errorf("%s on the run after the rollback: %+v; want skipped", u, r)
		}
		if p := e.mainPID(u); p != pids[u] {
			t.Errorf("%s restarted on a skipped digest", u)
		}
	}

	// berth pull does not bring v3 back under the tag either: a restart
	// still runs v2.
	if out, err := e.berthStdout("pull", "roll"); err != nil || !strings.Contains(out, v2+" (kept") || strings.Contains(out, v3) {
		t.Errorf("berth pull after the rollback printed %q (%v); want %s kept", out, err, v2)
	}
	e.sh("systemctl restart " + app + " " + worker)
	e.eventually(30*time.Second, "both units active after the restart", func() bool {
		return e.prop(app, "ActiveState") == "active" && e.prop(worker, "ActiveState") == "active"
	})
	if ps := e.autoupdatePs(); ps[app] != v2 {
		t.Errorf("ps after berth pull and a restart: %v; want %s", ps, v2)
	}

	// v4 moves the tag: tried again, and kept.
	v4 := build("v4", "sleep", "600")
	rows = e.autoUpdateJSON(true)
	for _, u := range []string{app, worker} {
		if r := rows[u]; r.Result != "updated" || r.From != v2 || r.To != v4 {
			t.Errorf("%s: %+v; want updated %s -> %s", u, r, v2, v4)
		}
	}
	if ps := e.autoupdatePs(); ps[app] != v4 {
		t.Errorf("ps after v4: %v", ps)
	}
	// Pruned: v1 and v3 are gone from the store; v2 stays as rollback target.
	refs := e.sh("cat " + filepath.Join(e.state, "images", "refs.json"))
	if !strings.Contains(refs, v2) || !strings.Contains(refs, v4) || strings.Contains(refs, v1) || strings.Contains(refs, v3) {
		t.Errorf("image store after v4 keeps %s and %s and drops %s, %s? refs.json:\n%s", v2[:19], v4[:19], v1[:19], v3[:19], refs)
	}
	hist := e.mustBerth("auto-update", "--history", "10")
	t.Logf("history:\n%s", hist)
	if !strings.Contains(hist, "rolled-back") || !strings.Contains(hist, "updated") {
		t.Errorf("history lacks updates or rollbacks")
	}
	e.mustBerth("down", "roll")
}

// autoUpdateJSON runs auto-update with --format json (plus args) and indexes
// the rows by unit; ok says whether the run must succeed.
func (e *berthEnv) autoUpdateJSON(ok bool, args ...string) map[string]autoUpdateRow {
	e.t.Helper()
	stdout, err := e.berthStdout(append([]string{"auto-update", "--format", "json"}, args...)...)
	if ok && err != nil {
		e.t.Fatalf("auto-update %v: %v\n%s\n%s", args, err, stdout, e.sh("journalctl --no-pager -n 60 -o cat || true"))
	}
	var rows []autoUpdateRow
	if err := json.Unmarshal([]byte(stdout), &rows); err != nil {
		e.t.Fatalf("auto-update json: %v\n%s", err, stdout)
	}
	m := map[string]autoUpdateRow{}
	for _, r := range rows {
		m[r.Unit] = r
	}
	e.t.Logf("auto-update %v: %+v", args, rows)
	return m
}

// berthStdout runs the CLI inside the sandbox and returns its stdout only, for
// machine-readable output; the error carries stderr.
func (e *berthEnv) berthStdout(args ...string) (string, error) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	full := append([]string{e.bin, "--config-dir", e.config, "--state-dir", e.state}, args...)
	out, err := e.sb.Exec(ctx, "env", full...)
	return string(out), err
}

// autoupdatePs returns the digest `berth ps` shows, by unit.
func (e *berthEnv) autoupdatePs() map[string]string {
	e.t.Helper()
	js, err := e.berthStdout("ps", "--format", "json")
	if err != nil {
		e.t.Fatalf("ps: %v\n%s", err, js)
	}
	var rows []struct {
		Unit   string `json:"unit"`
		Digest string `json:"digest"`
	}
	if err := json.Unmarshal([]byte(js), &rows); err != nil {
		e.t.Fatalf("ps json: %v\n%s", err, js)
	}
	m := map[string]string{}
	for _, r := range rows {
		m[r.Unit] = r.Digest
	}
	return m
}

type autoupdateEvent struct {
	Unit   string `json:"unit"`
	From   string `json:"from"`
	To     string `json:"to"`
	Result string `json:"result"`
	Reason string `json:"reason"`
}

func (e *berthEnv) autoupdateHistory() []autoupdateEvent {
	e.t.Helper()
	js, err := e.berthStdout("auto-update", "--history", "0", "--format", "json")
	if err != nil {
		e.t.Fatalf("auto-update --history: %v\n%s", err, js)
	}
	var events []autoupdateEvent
	if err := json.Unmarshal([]byte(js), &events); err != nil || len(events) == 0 {
		e.t.Fatalf("history json: %v (%d events)\n%s", err, len(events), js)
	}
	return events
}

// gate is a TCP forwarder on 127.0.0.1 inside the sandbox's netns in front
// of the registry on the host's loopback. Closing it makes "the registry is
// stopped" for berth (connections are refused) without stopping the one the
// test pushes to.
type gate struct {
	addr  string
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func autoupdateGate(t testing.TB, sb *Sandbox, target string) *gate {
	t.Helper()
	ln, err := sb.listenInside("127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening for the registry gate: %v", err)
	}
	g := &gate{addr: ln.Addr().String(), ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go g.forward(c, target)
		}
	}()
	t.Cleanup(g.stop)
	return g
}

func (g *gate) forward(c net.Conn, target string) {
	b, err := net.DialTimeout("tcp", target, 5*time.Second)
	if err != nil {
		c.Close()
		return
	}
	g.mu.Lock()
	g.conns = append(g.conns, c, b)
	g.mu.Unlock()
	go func() { io.Copy(b, c); b.Close() }()
	io.Copy(c, b)
	c.Close()
}

// stop closes the listener and every forwarded connection.
func (g *gate) stop() {
	g.ln.Close()
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, c := range g.conns {
		c.Close()
	}
	g.conns = nil
}

// TestAutoUpdateUnhealthy: v5 runs but never passes its health check (the
// real one, run by the service's health timer) within the soak window, so it
// is rolled back to the healthy image; policy and soak come from x-berth.
func TestAutoUpdateUnhealthy(t *testing.T) {
	reg := StartRegistry(t)
	wd := WorkDir(t)
	e := berthEnvIn(t, wd, reg.Addr())
	push := func(opts ...ImageOption) string {
		t.Helper()
		img, err := BuildBusybox(append([]ImageOption{WithCmd("sleep", "600")}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		return reg.Push(t, reg.Ref("web:stable"), img)
	}
	good := push(WithFile("/healthy", []byte("yes\n")))
	e.sb = BootSystemd(t, WithNetNS(reg.Addr()))
	e.writeProject("hc", fmt.Sprintf(`services:
  web:
    image: %s
    init: true
    healthcheck:
      test: ["CMD", "cat", "/healthy"]
      interval: 1s
      timeout: 1s
      retries: 2
    x-berth:
      autoupdate: registry
      soak: 2s
`, reg.Ref("web:stable")))
	e.mustBerth("apply")
	const web = "berth-hc-web.service"
	if st := e.prop(web, "ActiveState"); st != "active" {
		t.Fatalf("%s is %s", web, st)
	}

	v5 := push(WithFile("/etc/version", []byte("v5\n"))) // no /healthy: the check never passes
	start := time.Now()
	out, err := e.berth("auto-update")
	t.Logf("auto-update to v5 (%s):\n%s", time.Since(start).Round(time.Millisecond), out)
	if err == nil {
		t.Errorf("auto-update to an unhealthy v5 exited 0")
	}
	ev := e.autoupdateHistory()
	last := ev[len(ev)-1]
	if last.Result != "rolled-back" || last.From != good || last.To != v5 ||
		!(strings.Contains(last.Reason, "unhealthy") || strings.Contains(last.Reason, "no passing health check")) {
		t.Errorf("history: %+v; want rolled back from v5 because of its health check", last)
	}
	if ps := e.autoupdatePs(); ps[web] != good {
		t.Errorf("ps after the rollback: %s; want %s", ps[web], good)
	}
	if st := e.prop(web, "ActiveState"); st != "active" {
		t.Errorf("%s is %s after the rollback", web, st)
	}
	e.eventually(15*time.Second, "the rolled-back container to be healthy again", func() bool {
		return strings.Contains(e.mustBerth("ps"), "healthy")
	})

	// v6 passes its check: updated once it was healthy and stayed so.
	v6 := push(WithFile("/healthy", []byte("yes\n")), WithFile("/etc/version", []byte("v6\n")))
	rows := e.autoUpdateJSON(true)
	if r := rows[web]; r.Result != "updated" || r.From != good || r.To != v6 {
		t.Errorf("update to a healthy v6: %+v", r)
	}
	e.mustBerth("down", "hc")
}
