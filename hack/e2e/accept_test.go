package e2e

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSocketAccept: x-berth.sockets accept: true is systemd's Accept=yes.
// The socket listens after apply with no container; each connection
// starts an instance of the template service, whose own container runs the
// inetd-style `httpd -i` on the connection (stdin/stdout) and is gone,
// unit, cgroup, rootfs and state, once the connection is served. A change
// recreates socket and template; down removes both.
func TestSocketAccept(t *testing.T) {
	e := newBerthEnv(t)
	const page = "served by a container of its own\n"
	img := e.pushImage("inetd:latest", WithLayer(Layer{Files: []File{{Path: "/www/index.html", Content: []byte(page)}}}))
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	project := func(memLimit string) string {
		return fmt.Sprintf(`services:
  web:
    image: %s
    command: ["httpd", "-i", "-h", "/www"]
    restart: always
    mem_limit: %s
    x-berth:
      sockets:
        - {listen: "127.0.0.1:%d", accept: true}
`, img, memLimit, port)
	}
	e.writeProject("acc", project("64m"))
	out := e.mustBerth("apply")
	t.Logf("apply:\n%s", out)
	if !strings.Contains(out, "restart") || !strings.Contains(out, "one container per connection") {
		t.Errorf("apply does not warn that restart: always cannot apply:\n%s", out)
	}
	const sock, tpl = "berth-acc-web.socket", "berth-acc-web@.service"
	if st := e.prop(sock, "ActiveState"); st != "active" {
		t.Fatalf("%s is %s", sock, st)
	}
	if a := e.prop(sock, "Accept"); a != "yes" {
		t.Errorf("%s has Accept=%s", sock, a)
	}
	if f := e.sh("ls /run/systemd/system/" + tpl + " 2>&1"); !strings.HasSuffix(f, tpl) {
		t.Fatalf("template unit file: %s", f)
	}
	// Why the template is a file: systemd refuses a transient template.
	if o := e.sh(`busctl call org.freedesktop.systemd1 /org/freedesktop/systemd1 org.freedesktop.systemd1.Manager StartTransientUnit 'ssa(sv)a(sa(sv))' probe@.service fail 1 Description s probe 0 2>&1 || true`); strings.Contains(o, "/job/") {
		t.Errorf("systemd made a transient template unit (berth could drop its template file): %s", o)
	} else {
		t.Logf("a transient template is refused: %s", o)
	}
	// systemd loads an instance from the template: the service's limits
	// apply to each connection's unit.
	if m := e.prop("berth-acc-web@probe.service", "MemoryMax"); m != "67108864" {
		t.Errorf("an instance has MemoryMax=%s, want 64 MiB", m)
	}
	if out := e.mustBerth("plan"); !strings.Contains(out, "No changes.") {
		t.Errorf("plan right after apply:\n%s", out)
	}
	// ps lists the service as its socket: it has no service unit.
	if out := e.mustBerth("ps"); !regexp.MustCompile(`(?m)^acc\s+web\s+` + regexp.QuoteMeta(sock) + `\s+active/listening\s`).MatchString(out) {
		t.Errorf("berth ps does not list the listening socket:\n%s", out)
	}

	for i := range 3 {
		if body := e.acceptGet(port); body != page {
			t.Fatalf("connection %d: answer %q, want %q", i, body, page)
		}
	}
	// Concurrent connections: each its own instance and container.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{DialContext: e.sb.DialInside, DisableKeepAlives: true}}
			resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/index.html", port))
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			if b, _ := io.ReadAll(resp.Body); string(b) != page {
				errs <- fmt.Errorf("concurrent answer %q", b)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent connection: %v\n%s", err, e.sh("journalctl --no-pager -n 40 -u 'berth-acc-*'"))
	}
	e.acceptNoInstances()
	ids := map[string]bool{}
	for _, l := range strings.Split(e.sh("journalctl --no-pager -o cat -u 'berth-acc-web@*' | grep -o 'container=acc-web+[0-9a-f]*' || true"), "\n") {
		if l != "" {
			ids[l] = true
		}
	}
	if len(ids) < 7 {
		t.Errorf("want a container per connection (7 ids), journal names %v", ids)
	}

	// A change recreates socket and template; the new limit applies.
	e.writeProject("acc", project("32m"))
	if out := e.mustBerth("apply"); !strings.Contains(out, "acc/web") {
		t.Errorf("apply of a changed accepting service:\n%s", out)
	}
	if m := e.prop("berth-acc-web@probe.service", "MemoryMax"); m != "33554432" {
		t.Errorf("after the change an instance has MemoryMax=%s, want 32 MiB", m)
	}
	if body := e.acceptGet(port); body != page {
		t.Errorf("after the change: answer %q", body)
	}
	e.acceptNoInstances()

	e.mustBerth("down", "acc")
	e.eventually(10*time.Second, "socket to be gone", func() bool {
		return e.sh("systemctl list-units --all --plain --no-legend 'berth-acc-*'") == ""
	})
	if f := e.sh("ls /run/systemd/system/ | grep '^berth-acc' || true"); f != "" {
		t.Errorf("unit files left after down: %s", f)
	}
	if _, err := (&http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DialContext: e.sb.DialInside}}).Get(fmt.Sprintf("http://127.0.0.1:%d/", port)); err == nil {
		t.Error("something still listens after down")
	}
}

// acceptGet is one client connection to 127.0.0.1:port in the sandbox's
// network namespace; it returns the body, or fails with the journal.
func (e *berthEnv) acceptGet(port int) string {
	e.t.Helper()
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{DialContext: e.sb.DialInside, DisableKeepAlives: true}}
	resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/index.html", port))
	if err != nil {
		e.t.Fatalf("connecting: %v\n%s", err, e.sh("journalctl --no-pager -n 60 -u 'berth-acc-*'"))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		e.t.Errorf("status %s: %s", resp.Status, body)
	}
	return string(body)
}

// acceptNoInstances: once connections are served, no instance unit,
// container cgroup, rootfs mount, run-dir file or state dir is left.
func (e *berthEnv) acceptNoInstances() {
	e.t.Helper()
	e.eventually(20*time.Second, "per-connection units to be gone", func() bool {
		return e.sh("systemctl list-units --all --plain --no-legend 'berth-acc-web@*'") == ""
	})
	if m := e.sh("grep -E ' /run/berth' /proc/self/mountinfo || true"); m != "" {
		e.t.Errorf("mounts left under the run dir:\n%s", m)
	}
	if f := e.runDirLeftovers(); f != "" {
		e.t.Errorf("left in the run dir:\n%s", f)
	}
	// Instance units' cgroups (berth-acc-web@…) and their containers'
	// (acc-web+…); the listening socket has its own, which stays.
	if c := e.sh(fmt.Sprintf("find /sys/fs/cgroup -path '*%s/*' \\( -name '*acc-web@*' -o -name '*acc-web+*' \\) -type d 2>/dev/null || true", e.sb.Cgroup())); c != "" {
		e.t.Errorf("cgroup dirs left:\n%s", c)
	}
	if f := e.sh(fmt.Sprintf("find %s/containers -mindepth 1 -name 'acc-web*' 2>/dev/null || true", e.state)); f != "" {
		e.t.Errorf("container dirs left in the state dir:\n%s", f)
	}
}
