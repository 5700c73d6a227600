package network

import (
	"context"
	"strings"
	"testing"

	"github.com/berth-dev/berth/compose/model"
)

// TestPublishNetlinkMatchesNft: the elements publish adds over netlink
// list exactly as those `nft -f` adds from knftables' rendering (keys,
// values, comments, in all four maps), and unpublish leaves none.
func TestPublishNetlinkMatchesNft(t *testing.T) {
	if !inPrivateNetns(t) {
		return
	}
	ctx := context.Background()
	p := Paths{StateDir: t.TempDir(), RunDir: t.TempDir()}
	r := &Record{Name: "p_n", Bridge: "berth0000000n", Subnet: "10.89.4.0/24", Gateway: "10.89.4.1"}
	sh(t, "ip link add berth0000000n type bridge")
	if err := syncRules(ctx, []*Record{r}); err != nil {
		t.Fatal(err)
	}
	a := Attachment{Network: "p_n", IP: "10.89.4.5", More: []string{"fd42:4::5"}, Ports: []model.Port{
		{HostPort: 18080, ContainerPort: 80, Protocol: "tcp"},
		{HostIP: "0.0.0.0", HostPort: 18053, ContainerPort: 53, Protocol: "udp"},
		{HostIP: "127.0.0.1", HostPort: 18081, ContainerPort: 81},
		{HostIP: "::", HostPort: 18082, ContainerPort: 82, Protocol: "tcp"},
		{HostIP: "fd42:4::1", HostPort: 65535, ContainerPort: 1, Protocol: "udp"},
	}}
	maps := func() string {
		var out []string
		for _, m := range portMaps {
			out = append(out, sh(t, "nft list map inet berth "+m.name))
		}
		return strings.Join(out, "")
	}
	empty := maps()

	// The elements as knftables renders them for nft.
	elems, err := portElems(r, a)
	if err != nil {
		t.Fatal(err)
	}
	tx := newRulesTx()
	for _, e := range elems {
		tx.Add(e.element("p-web"))
	}
	if err := runNft(ctx, tx); err != nil {
		t.Fatal(err)
	}
	want := maps()
	for _, m := range portMaps {
		sh(t, "nft flush map inet berth "+m.name)
	}

	if err := p.publish(ctx, "p-web", "/proc/self/ns/net", []*Record{r}, []Attachment{a}); err != nil {
		t.Fatal(err)
	}
	if got := maps(); got != want {
		t.Errorf("maps after publish over netlink:\n%s\nafter nft -f:\n%s", got, want)
	}
	for _, w := range []string{
		`tcp . 18080 comment "p-web" : 10.89.4.5 . 80`,
		`udp . 18053 comment "p-web" : 10.89.4.5 . 53`,
		`127.0.0.1 . tcp . 18081 comment "p-web" : 10.89.4.5 . 81`,
		`tcp . 18082 comment "p-web" : fd42:4::5 . 82`,
		`fd42:4::1 . udp . 65535 comment "p-web" : fd42:4::5 . 1`,
	} {
		if !strings.Contains(want, w) {
			t.Errorf("maps lack %q:\n%s", w, want)
		}
	}
	if err := p.unpublish(ctx, "p-web"); err != nil {
		t.Fatal(err)
	}
	if got := maps(); got != empty {
		t.Errorf("maps after unpublish:\n%s\nwant:\n%s", got, empty)
	}
}
