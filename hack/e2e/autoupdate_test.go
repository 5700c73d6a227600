package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// autoUpdateRow is the part of `berth auto-update --dry-run --format json`
// the test reads.
type autoUpdateRow struct {
	Unit    string `json:"unit"`
	Service string `json:"service"`
	Image   string `json:"image"`
	Policy  string `json:"policy"`
	From    string `json:"from"`
	To      string `json:"to"`
	Result  string `json:"result"`
	Error   string `json:"error"`
}

// TestAutoUpdateDryRun is the check half of issue 7: after a tag moves, the
// dry run names the services that would be updated, asks the registry once
// for an image two services share, and touches no running container.
func TestAutoUpdateDryRun(t *testing.T) {
	reg := StartRegistry(t)
	wd := WorkDir(t)
	e := &berthEnv{t: t, bin: buildBerth(t, wd), config: filepath.Join(wd, "etc"), state: filepath.Join(wd, "state"), registry: reg.Addr()}
	if err := os.MkdirAll(e.config, 0o755); err != nil {
		t.Fatal(err)
	}
	v1img, err := BuildBusybox()
	if err != nil {
		t.Fatal(err)
	}
	ref := reg.Ref("app:stable")
	v1 := reg.Push(t, ref, v1img)
	e.sb = BootSystemd(t)

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
`, ref, reg.Ref("app@"+v1)))
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
	rows := e.autoUpdateDryRun()
	if r := rows["berth-upd-a.service"]; r.Result != "unchanged" || r.From != v1 || r.To != v1 {
		t.Errorf("before the tag moved: %+v; want unchanged at %s", r, v1)
	}

	v2img, err := BuildBusybox(WithFile("/etc/version", []byte("v2\n")))
	if err != nil {
		t.Fatal(err)
	}
	v2 := reg.Push(t, ref, v2img) // resets the counters
	if v2 == v1 {
		t.Fatalf("v2 has v1's digest %s", v1)
	}

	rows = e.autoUpdateDryRun()
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

	out, err := e.berth("auto-update")
	if err == nil || !strings.Contains(out, "not implemented") || !strings.Contains(out, "--dry-run") {
		t.Errorf("auto-update without --dry-run: err=%v\n%s", err, out)
	}

	for _, u := range units {
		if p := e.mainPID(u); p != pids[u] {
			t.Errorf("%s was restarted: main PID %d -> %d", u, pids[u], p)
		}
	}

	// A registry that is gone fails the check (exit 1) and says so per unit.
	reg.Delete(t, ref)
	out, err = e.berth("auto-update", "--dry-run")
	if err == nil || !strings.Contains(out, "failed") {
		t.Errorf("dry run with the tag deleted: err=%v; want exit 1 and failed rows\n%s", err, out)
	}
	t.Logf("auto-update --dry-run with the tag deleted:\n%s", out)
	e.mustBerth("down", "upd")
}

// autoUpdateDryRun runs the dry run as JSON and indexes the rows by unit.
func (e *berthEnv) autoUpdateDryRun() map[string]autoUpdateRow {
	e.t.Helper()
	stdout, err := e.berthStdout("auto-update", "--dry-run", "--format", "json")
	if err != nil {
		e.t.Fatalf("auto-update --dry-run --format json: %v\n%s", err, stdout)
	}
	var rows []autoUpdateRow
	if err := json.Unmarshal([]byte(stdout), &rows); err != nil {
		e.t.Fatalf("auto-update json: %v\n%s", err, stdout)
	}
	m := map[string]autoUpdateRow{}
	for _, r := range rows {
		m[r.Unit] = r
	}
	e.t.Logf("auto-update --dry-run --format json: %+v", rows)
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
