package network

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/berth-dev/berth/compose/model"
)

func published(port uint16, at string) model.Service {
	return model.Service{Name: "web", Networks: att(""), PortsAt: at,
		Ports: []model.Port{{HostPort: port, ContainerPort: 80, Protocol: "tcp"}}}
}

// TestPreparePortConflicts: of two projects publishing one host port, the
// one that published it before keeps it and the other is refused naming
// both services and files; a port a host process listens on is refused
// naming the process; nothing of a refused project is reserved.
func TestPreparePortConflicts(t *testing.T) {
	p := Paths{StateDir: t.TempDir(), RunDir: t.TempDir()}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	busy := uint16(ln.Addr().(*net.TCPAddr).Port)
	free, _ := net.Listen("tcp", "127.0.0.1:0")
	port := uint16(free.Addr().(*net.TCPAddr).Port)
	free.Close()

	// "b" publishes first and records the port.
	b := []model.Entry{testProject("b", map[string]model.Network{"default": {}}, published(port, "/etc/berth/b/compose.yaml:5"))}
	if err := Prepare(context.Background(), p, b, nil, true); err != nil || b[0].Err != nil {
		t.Fatal(err, b[0].Err)
	}
	// Then "a" (sorting first) claims it too: b keeps it.
	both := []model.Entry{
		testProject("a", map[string]model.Network{"default": {}}, published(port, "/etc/berth/a/compose.yaml:7")),
		testProject("b", map[string]model.Network{"default": {}}, published(port, "/etc/berth/b/compose.yaml:5")),
	}
	if err := Prepare(context.Background(), p, both, nil, true); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`service "web" of project a (/etc/berth/a/compose.yaml:7): host port 0.0.0.0:%d/tcp is already published by service "web" of project b (/etc/berth/b/compose.yaml:5)`, port)
	if both[0].Err == nil || !strings.Contains(both[0].Err.Error(), want) || both[1].Err != nil {
		t.Errorf("a: %v\nb: %v\nwant a: %s", both[0].Err, both[1].Err, want)
	}
	if _, err := p.ReadRecord("a_default"); err == nil {
		t.Errorf("the refused project's network was recorded")
	}

	host := []model.Entry{testProject("c", map[string]model.Network{"default": {}}, published(busy, "/etc/berth/c/compose.yaml:3"))}
	if err := Prepare(context.Background(), p, host, nil, false); err != nil {
		t.Fatal(err)
	}
	want = fmt.Sprintf("host port 0.0.0.0:%d/tcp is already bound on the host by pid %d (", busy, os.Getpid())
	if host[0].Err == nil || !strings.Contains(host[0].Err.Error(), want) {
		t.Errorf("c: %v\nwant %s", host[0].Err, want)
	}
}
