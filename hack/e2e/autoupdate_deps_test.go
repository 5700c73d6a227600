package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAutoUpdateRollbackDependents: db is updated to an image whose command
// does not exist. db's failing start makes systemd stop web (depends_on → Requires=),
// and systemd unloads the stopped transient unit. After the rollback both
// run again: db on its previous image, web recreated from its spec. A good
// db image then updates with web taken along and still running.
func TestAutoUpdateRollbackDependents(t *testing.T) {
	reg := StartRegistry(t)
	wd := WorkDir(t)
	e := berthEnvIn(t, wd, reg.Addr())
	build := func(repo, version string, cmd ...string) string {
		t.Helper()
		img, err := BuildBusybox(WithCmd(cmd...), WithFile("/etc/version", []byte(version+"\n")))
		if err != nil {
			t.Fatal(err)
		}
		return reg.Push(t, reg.Ref(repo), img)
	}
	d1 := build("db:stable", "d1", "sleep", "600")
	build("web:stable", "w1", "sleep", "600")
	e.sb = BootSystemd(t, WithNetNS(reg.Addr()))
	if err := os.WriteFile(filepath.Join(e.config, "berth.yaml"), []byte("autoupdate:\n  soak: 1s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	project := func(extra string) {
		e.writeProject("deps", fmt.Sprintf(`services:
  db:
    image: %[1]s
    init: true
    restart: always
    labels:
      io.containers.autoupdate: registry
  web:
    image: %[2]s
    init: true
    depends_on: [db]
%[3]s`, reg.Ref("db:stable"), reg.Ref("web:stable"), extra))
	}
	project("")
	e.mustBerth("apply")
	const db, web = "berth-deps-db.service", "berth-deps-web.service"
	for _, u := range []string{db, web} {
		if st := e.prop(u, "ActiveState"); st != "active" {
			t.Fatalf("%s is %s\n%s", u, st, e.sh("journalctl --no-pager -n 50 -u '"+u+"' || true"))
		}
	}

	// d2's command does not exist: db's start job fails, which is when
	// systemd stops web and then unloads it.
	d2 := build("db:stable", "d2", "/no/such/db")
	start := time.Now()
	out, err := e.berth("auto-update")
	t.Logf("auto-update to a broken db (%s):\n%s", time.Since(start).Round(time.Millisecond), out)
	if err == nil {
		t.Errorf("auto-update to a broken db exited 0")
	}
	rows := e.autoUpdateJSON(true, "--dry-run")
	if r := rows[db]; r.Result != "skipped" || r.From != d1 || r.To != d2 {
		t.Errorf("db after the rollback: %+v; want skipped at %s (d2 recorded bad)", r, d1)
	}
	ev := e.autoupdateHistory()
	if last := ev[len(ev)-1]; last.Unit != db || last.Result != "rolled-back" || last.To != d2 {
		t.Errorf("history's last event %+v; want db rolled back from d2", last)
	}
	for _, u := range []string{db, web} {
		if st := e.prop(u, "ActiveState"); st != "active" || e.mainPID(u) == 0 {
			t.Errorf("%s is %s after db's rollback\n%s", u, st, e.sh("journalctl --no-pager -n 30 -o cat || true"))
		}
	}
	if ps := e.autoupdatePs(); ps[db] != d1 {
		t.Errorf("db runs %s after the rollback; want %s", ps[db], d1)
	}

	// A new service on db's tag: apply must not pull d2, recorded bad,
	// back under the tag; it starts on d1 and plan says so.
	project("  replica:\n    image: " + reg.Ref("db:stable") + "\n    init: true\n")
	if plan := e.mustBerth("plan"); !strings.Contains(plan, "this create keeps "+d1[:19]) {
		t.Errorf("plan of the new service does not say it keeps %s:\n%s", d1[:19], plan)
	}
	if out := e.mustBerth("apply"); !strings.Contains(out, "deps/replica: created") {
		t.Errorf("apply of the new service:\n%s", out)
	}
	if ps := e.autoupdatePs(); ps["berth-deps-replica.service"] != d1 || ps[db] != d1 {
		t.Errorf("after apply: %v; want replica and db on %s, not the bad %s", ps, d1, d2)
	}

	// A good db image: updated, web restarted with it and running.
	d3 := build("db:stable", "d3", "sleep", "600")
	webPID := e.mainPID(web)
	rows = e.autoUpdateJSON(true)
	if r := rows[db]; r.Result != "updated" || r.To != d3 {
		t.Errorf("db to d3: %+v", r)
	}
	if st := e.prop(web, "ActiveState"); st != "active" || e.mainPID(web) == 0 {
		t.Errorf("web is %s after db's update (PID %d before)", st, webPID)
	}
	e.mustBerth("down", "deps")
	if left := e.sh("systemctl list-units --all --plain --no-legend 'berth-deps-*'"); strings.TrimSpace(left) != "" {
		t.Errorf("units left after down:\n%s", left)
	}
}
