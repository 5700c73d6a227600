package network

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/compose/model"
)

func TestAddrMAC(t *testing.T) {
	if got := addrMAC(netip.MustParseAddr("10.89.3.7")).String(); got != "02:42:0a:59:03:07" {
		t.Errorf("addrMAC(10.89.3.7) = %s, want 02:42:0a:59:03:07", got)
	}
	for _, bad := range []string{"", "02:42:0a", "01:00:5e:00:00:01", "nonsense"} {
		if _, err := parseMAC(bad); err == nil {
			t.Errorf("parseMAC(%q) accepted", bad)
		}
	}
}

func TestGARP(t *testing.T) {
	mac := net.HardwareAddr{2, 0x42, 10, 89, 3, 7}
	ip := netip.MustParseAddr("10.89.3.7")
	want := []byte{0, 1, 8, 0, 6, 4, 0, 1, 2, 0x42, 10, 89, 3, 7, 10, 89, 3, 7, 0, 0, 0, 0, 0, 0, 10, 89, 3, 7}
	if got := garp(1, ip, mac); !bytes.Equal(got, want) {
		t.Errorf("request: % x\nwant      % x", got, want)
	}
	copy(want[18:], mac)
	want[7] = 2
	if got := garp(2, ip, mac); !bytes.Equal(got, want) {
		t.Errorf("reply: % x\nwant    % x", got, want)
	}
}

// TestRecreateKeepsMAC: a container set up again with its address gets
// the same MAC, derived from the address, and a peer whose neighbour
// entry names another MAC is corrected by the new container's gratuitous
// ARP before anything is sent; DEL has the MAC among its cached
// arguments.
func TestRecreateKeepsMAC(t *testing.T) {
	if !inPrivateNetns(t) {
		return
	}
	ctx := context.Background()
	p := Paths{StateDir: t.TempDir(), RunDir: t.TempDir()}
	sh(t, "ip link set lo up")
	entries := []model.Entry{testProject("mac", map[string]model.Network{"default": {}},
		model.Service{Name: "web", Networks: att("")}, model.Service{Name: "db", Networks: att("")})}
	if err := Prepare(ctx, p, entries, nil, true); err != nil || entries[0].Err != nil {
		t.Fatal(err, entries[0].Err)
	}
	web, db := &entries[0].Project.Services[0], &entries[0].Project.Services[1]
	l := &Launcher{Paths: p, PluginDir: os.Getenv("BERTH_TEST_CNI")}
	setup := func(s *model.Service) string {
		t.Helper()
		dir := filepath.Join(p.RunDir, "containers", s.ID())
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		c, err := l.Setup(ctx, dir, s)
		if err != nil {
			t.Fatalf("setup %s: %v", s.ID(), err)
		}
		return c.NetnsPath
	}
	webNS := setup(web)
	dbIP := db.Networks["mac_default"].IPv4
	want := addrMAC(netip.MustParseAddr(dbIP)).String()
	if got := sh(t, "nsenter --net="+setup(db)+" ip link show eth0 | awk '/ether/ {print $2}'"); got != want {
		t.Fatalf("db's MAC is %s, want %s (derived from %s)", got, want, dbIP)
	}
	n, err := l.networker()
	if err != nil {
		t.Fatal(err)
	}
	atts, err := n.cni.GetCachedAttachments(db.ID())
	if err != nil || len(atts) != 1 || atts[0].CapabilityArgs["mac"] != want {
		t.Fatalf("cached attachments of db: %v, %+v; want the MAC %s among the capability arguments", err, atts, want)
	}

	// db is recreated; web's neighbour entry names a stale MAC.
	if err := l.Teardown(ctx, db.ID()); err != nil {
		t.Fatal(err)
	}
	sh(t, "nsenter --net="+webNS+" ip neigh replace "+dbIP+" lladdr 02:00:00:00:00:99 dev eth0 nud reachable")
	if got := sh(t, "nsenter --net="+setup(db)+" ip link show eth0 | awk '/ether/ {print $2}'"); got != want {
		t.Errorf("recreated db's MAC is %s, want %s", got, want)
	}
	if neigh := sh(t, "nsenter --net="+webNS+" ip neigh show "+dbIP); !strings.Contains(neigh, want) {
		t.Errorf("web's neighbour entry after db's gratuitous ARP: %q, want %s", neigh, want)
	}
	for _, s := range []*model.Service{web, db} {
		if err := l.Teardown(ctx, s.ID()); err != nil {
			t.Error(err)
		}
	}
}

// TestAttachMACAddress: mac_address is the interface's MAC.
func TestAttachMACAddress(t *testing.T) {
	if !inPrivateNetns(t) {
		return
	}
	ctx := context.Background()
	p := Paths{StateDir: t.TempDir(), RunDir: t.TempDir()}
	sh(t, "ip link set lo up")
	const mac = "02:42:ac:11:00:02"
	entries := []model.Entry{testProject("mac", map[string]model.Network{"default": {}},
		model.Service{Name: "web", Networks: map[string]model.NetworkAttachment{"default": {MAC: mac}}})}
	if err := Prepare(ctx, p, entries, nil, true); err != nil || entries[0].Err != nil {
		t.Fatal(err, entries[0].Err)
	}
	web := &entries[0].Project.Services[0]
	l := &Launcher{Paths: p, PluginDir: os.Getenv("BERTH_TEST_CNI")}
	dir := filepath.Join(p.RunDir, "containers", web.ID())
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	c, err := l.Setup(ctx, dir, web)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Teardown(ctx, web.ID())
	if got := sh(t, "nsenter --net="+c.NetnsPath+" ip link show eth0 | awk '/ether/ {print $2}'"); got != mac {
		t.Errorf("web's MAC is %s, want %s", got, mac)
	}
}
