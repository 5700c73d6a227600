package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestDependencyEdit: editing a service that another depends on recreates
// both, in order, and both run afterwards. The dependent's container exits
// 143 on SIGTERM (as many real programs do), so systemd marks it failed when
// its dependency's stop takes it along; that must not keep the old
// dependency unit loaded and fail the apply.
func TestDependencyEdit(t *testing.T) {
	e := newBerthEnv(t)
	project := func(dbCmd string) {
		e.writeProject("deps", fmt.Sprintf(`services:
  db:
    image: %[1]s/busybox:latest
    network_mode: none
    command: ["sh", "-c", %[2]q]
  web:
    image: %[1]s/busybox:latest
    network_mode: none
    command: ["sh", "-c", "trap 'exit 143' TERM; while true; do sleep 1; done"]
    depends_on: [db]
`, e.registry, dbCmd))
	}
	project("trap 'exit 143' TERM; while true; do sleep 1; done")
	e.mustBerth("apply")
	const db, web = "berth-deps-db.service", "berth-deps-web.service"
	webPID := e.mainPID(web)

	project("trap 'exit 143' TERM; echo v2; while true; do sleep 1; done")
	out, err := e.berth("apply")
	if err != nil {
		t.Fatalf("apply after editing db failed: %v\n%s\n%s", err, out, e.sh("journalctl --no-pager -n 40 || true"))
	}
	for _, want := range []string{"~ recreate deps/db", "~ recreate deps/web", "deps/db: recreated", "deps/web: recreated"} {
		if !strings.Contains(out, want) {
			t.Errorf("apply output lacks %q:\n%s", want, out)
		}
	}
	for _, u := range []string{db, web} {
		e.eventually(30*time.Second, u+" active", func() bool { return e.prop(u, "ActiveState") == "active" })
	}
	if e.mainPID(web) == webPID {
		t.Errorf("web kept PID %d although its dependency was recreated", webPID)
	}
	if out := e.mustBerth("plan"); !strings.Contains(out, "No changes.") {
		t.Errorf("plan after apply is not empty:\n%s", out)
	}
}

// TestStartStoppedDependency: a dependency stopped with berth stop, and a
// run-once service that ended, stay loaded in systemd while the service
// that wants them (required: false) runs; berth start starts each again.
func TestStartStoppedDependency(t *testing.T) {
	e := newBerthEnv(t)
	e.writeProject("deps", fmt.Sprintf(`services:
  db:
    image: %[1]s/busybox:latest
    network_mode: none
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
  init:
    image: %[1]s/busybox:latest
    network_mode: none
    restart: "no"
    # Ends after its hand-over: one that exits within a millisecond of its
    # exec can still race systemd's MAINPID check (see runtime.handOver).
    command: ["sh", "-c", "echo init ran; sleep 0.5"]
  web:
    image: %[1]s/busybox:latest
    network_mode: none
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    depends_on:
      db: {condition: service_started, required: false}
      init: {condition: service_started, required: false}
`, e.registry))
	if out, err := e.berth("apply"); err != nil {
		t.Fatalf("apply: %v\n%s\n%s", err, out, e.sh("journalctl --no-pager -n 60 -u 'berth-deps-*' || true"))
	}
	const db, init, web = "berth-deps-db.service", "berth-deps-init.service", "berth-deps-web.service"
	webPID := e.mainPID(web)
	e.mustBerth("stop", "deps/db")
	if s := e.prop(db, "ActiveState"); s != "inactive" {
		t.Fatalf("db after berth stop: %s", s)
	}
	if out, err := e.berth("start", "deps/db"); err != nil {
		t.Fatalf("berth start of the stopped dependency: %v\n%s", err, out)
	}
	e.eventually(30*time.Second, db+" active", func() bool { return e.prop(db, "ActiveState") == "active" })

	e.eventually(30*time.Second, init+" ended", func() bool { return e.prop(init, "ActiveState") == "inactive" })
	if out, err := e.berth("start", "deps/init"); err != nil {
		t.Fatalf("berth start of the run-once service: %v\n%s", err, out)
	}
	e.eventually(30*time.Second, "init ran twice", func() bool {
		return strings.Count(e.sh("journalctl --no-pager -u "+init+" || true"), "init ran") >= 2
	})
	if e.mainPID(web) != webPID {
		t.Errorf("web was restarted (PID %d, was %d)", e.mainPID(web), webPID)
	}
}
