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
