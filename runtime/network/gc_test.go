package network

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/compose/model"
)

// TestGCStaleAttachments: attachments whose cleanup was killed half-way
// (namespace unpinned but CNI cache left, or nothing removed at all) are
// deleted by GC with every rule they made, while a running container's
// attachment stays untouched; once the project is gone so is its network.
func TestGCStaleAttachments(t *testing.T) {
	if !inPrivateNetns(t) {
		return
	}
	ctx := context.Background()
	p := Paths{StateDir: t.TempDir(), RunDir: t.TempDir()}
	sh(t, "ip link set lo up")
	web := model.Service{Name: "web", Networks: att(""), Ports: []model.Port{{HostIP: "127.0.0.1", HostPort: 18080, ContainerPort: 80, Protocol: "tcp"}}}
	db := model.Service{Name: "db", Networks: att("")}
	// mk loads the project as apply does: networks prepared.
	mk := func(svcs ...model.Service) []model.Entry {
		t.Helper()
		entries := []model.Entry{testProject("gc", map[string]model.Network{"default": {}}, svcs...)}
		if err := Prepare(ctx, p, entries, nil, true); err != nil || entries[0].Err != nil {
			t.Fatal(err, entries[0].Err)
		}
		return entries
	}
	entries := mk(web, db)
	l := &Launcher{Paths: p, PluginDir: os.Getenv("BERTH_TEST_CNI")}
	setup := func(s *model.Service) {
		t.Helper()
		dir := filepath.Join(p.RunDir, "containers", s.ID())
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Setup(ctx, dir, s); err != nil {
			t.Fatalf("setup %s: %v", s.ID(), err)
		}
	}
	webS, dbS := &entries[0].Project.Services[0], &entries[0].Project.Services[1]
	webIP, dbIP := webS.Networks["gc_default"].IPv4, dbS.Networks["gc_default"].IPv4
	setup(webS)
	setup(dbS)
	// Per container, only web's published port has rules (DNAT to its
	// address); masquerading is the network's (its subnet).
	rec, err := p.ReadRecord("gc_default")
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(rules(t), "\n")
	for _, want := range []string{webIP, "tcp . 18080", rec.Subnet} {
		if !strings.Contains(all, want) {
			t.Fatalf("no rule naming %s after setup:\n%s", want, all)
		}
	}

	// web's cleanup was killed after unpinning its namespace: GC deletes
	// the attachment (in a scratch namespace) with its DNAT rules; db
	// keeps running and keeps everything, the network's rules too.
	if err := RemoveNetns(p.NetnsPath(webS.ID())); err != nil {
		t.Fatal(err)
	}
	if err := GC(ctx, p, l.PluginDir, mk(web, db), nil, nil); err != nil {
		t.Fatalf("GC: %v", err)
	}
	all = strings.Join(rules(t), "\n")
	for _, gone := range []string{webIP, "tcp . 18080"} {
		if strings.Contains(all, gone) {
			t.Errorf("rules naming %s left after GC of the stale attachment:\n%s", gone, all)
		}
	}
	if !strings.Contains(all, rec.Subnet) {
		t.Errorf("GC removed the rules of the network db runs on:\n%s", all)
	}
	if out := sh(t, "nsenter --net="+p.NetnsPath(dbS.ID())+" ip -4 -o addr show eth0"); !strings.Contains(out, dbIP) {
		t.Errorf("db lost its address: %s", out)
	}
	if ok, _ := cachedIDs(p, webS.ID()); ok {
		t.Errorf("web's CNI cache entry is left")
	}
	if ok, _ := cachedIDs(p, dbS.ID()); !ok {
		t.Errorf("db's CNI cache entry is gone")
	}

	// db is removed from the project, but its cleanup never ran: GC
	// deletes its attachment, unpins its namespace and, with the project
	// gone as well, removes the network.
	if err := GC(ctx, p, l.PluginDir, mk(web), nil, nil); err != nil {
		t.Fatalf("GC: %v", err)
	}
	if _, err := os.Stat(p.NetnsPath(dbS.ID())); !os.IsNotExist(err) {
		t.Errorf("db's namespace pin is left: %v", err)
	}
	if err := GC(ctx, p, l.PluginDir, nil, nil, nil); err != nil {
		t.Fatalf("GC: %v", err)
	}
	for _, check := range []struct{ what, cmd string }{
		{"veths", "ip -o link show type veth"},
		{"bridges", "ip -o link show type bridge"},
		{"netns pins", "find " + p.NetnsDir() + " -mindepth 1 2>/dev/null || true"},
		{"IPAM reservations", "find " + p.ipamDir() + " -type f 2>/dev/null || true"},
		{"CNI cache entries", "find " + filepath.Join(p.cacheDir(), "results") + " -type f 2>/dev/null || true"},
		{"network records", "find " + p.networksDir() + " -mindepth 1 -type d 2>/dev/null || true"},
		{"rules", "(iptables-save; nft list ruleset) 2>/dev/null | grep -E 'berth|10\\.89\\.|dport 18080|\\. 18080' || true"},
	} {
		if out := sh(t, check.cmd); out != "" {
			t.Errorf("%s left:\n%s", check.what, out)
		}
	}
}
