package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestSocketActivation: the .socket unit listens before any container
// exists; the first client connection starts the service, whose container
// (in its own network namespace) serves it on the inherited fd 3.
func TestSocketActivation(t *testing.T) {
	e := newBerthEnv(t)
	img, port := e.socketsServer()
	e.writeProject("sock", fmt.Sprintf(`services:
  api:
    image: %s
    command: ["sdhelper", "serve-fd3"]
    x-berth:
      sockets:
        - listen: "127.0.0.1:%d"
          name: web
`, img, port))
	out := e.mustBerth("apply")
	t.Logf("apply:\n%s", out)
	const svc, sock = "berth-sock-api.service", "berth-sock-api.socket"
	if st := e.prop(sock, "ActiveState"); st != "active" {
		t.Fatalf("%s is %s", sock, st)
	}
	if st := e.prop(svc, "ActiveState"); st != "inactive" {
		t.Fatalf("%s is %s before any connection", svc, st)
	}
	if f := e.sh("ls /run/berth/containers 2>/dev/null || true"); strings.Contains(f, "sock-api") {
		t.Fatalf("a container exists before the first connection: %s", f)
	}
	// A second apply keeps the waiting service as it is.
	if out := e.mustBerth("plan"); !strings.Contains(out, "No changes.") {
		t.Errorf("plan with a socket-activated service waiting:\n%s", out)
	}

	body := e.socketsFirstGet(port, svc)
	t.Logf("answer: %s", body)
	if !strings.Contains(body, "served by pid=1 host=api fds=1 names=web") {
		t.Errorf("answer %q: want it served by the container's PID 1 with LISTEN_FDS=1 LISTEN_FDNAMES=web", body)
	}
	if st := e.prop(svc, "ActiveState"); st != "active" {
		t.Fatalf("%s is %s after the first connection", svc, st)
	}
	e.assertContainerIsMainProcess(svc)
	pid := e.mainPID(svc)
	// The container keeps its own network namespace.
	if e.sh(fmt.Sprintf("readlink /proc/%d/ns/net", pid)) == e.sh("readlink /proc/self/ns/net") {
		t.Error("the container shares the host's network namespace")
	}

	e.mustBerth("down", "sock")
	e.eventually(10*time.Second, "socket and service units to be gone", func() bool {
		return e.sh("systemctl list-units --all --plain --no-legend 'berth-sock-*'") == ""
	})
	if _, err := (&http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DialContext: e.sb.DialInside}}).Get(fmt.Sprintf("http://127.0.0.1:%d/", port)); err == nil {
		t.Error("something still listens after down")
	}
}

// socketsServer pushes the sdhelper image, whose `sdhelper serve-fd3`
// answers HTTP on an inherited fd 3, and picks a free port for its socket.
func (e *berthEnv) socketsServer() (img string, port int) {
	e.t.Helper()
	img = e.healthPushSDHelper()
	port, err := freePort()
	if err != nil {
		e.t.Fatal(err)
	}
	return img, port
}

// socketsFirstGet is a real client's first connection, to 127.0.0.1:port
// in the sandbox's network namespace, which starts the socket-activated
// service; it returns the answer's body, or fails the test with the journal
// of units (a name or glob).
func (e *berthEnv) socketsFirstGet(port int, units string) string {
	e.t.Helper()
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{DialContext: e.sb.DialInside}}
	resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	if err != nil {
		e.t.Fatalf("first connection: %v\n%s", err, e.sh("journalctl --no-pager -n 40 -u '"+units+"'"))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}
