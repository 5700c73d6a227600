package network

import (
	"context"
	"strings"
	"testing"
)

// TestSyncRules installs two networks' rules in one table, keeps the other
// network's when one goes, and leaves nothing once the last goes.
func TestSyncRules(t *testing.T) {
	if !inPrivateNetns(t) {
		return
	}
	ctx := context.Background()
	a := &Record{Name: "p_a", Bridge: "berth0000000a", Subnet: "10.89.1.0/24", Gateway: "10.89.1.1"}
	b := &Record{Name: "p_b", Bridge: "berth0000000b", Subnet: "10.89.2.0/24", Gateway: "10.89.2.1", Internal: true}
	if err := syncRules(ctx, []*Record{a, b}); err != nil {
		t.Fatal(err)
	}
	got := sh(t, "nft list table inet "+rulesTable)
	for _, want := range []string{
		`iifname "berth0000000a" oifname != "berth0000000a" oifname @bridges drop`,
		`iifname "berth0000000b" oifname != "berth0000000b" oifname @bridges drop`,
		`ip saddr 10.89.1.0/24 ip daddr != 10.89.1.0/24 ip daddr != 224.0.0.0/4 masquerade`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("rules lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "10.89.2.0/24") {
		t.Errorf("internal network p_b is masqueraded:\n%s", got)
	}
	// Installing again replaces, never duplicates.
	if err := syncRules(ctx, []*Record{a, b}); err != nil {
		t.Fatal(err)
	}
	if again := sh(t, "nft list table inet "+rulesTable); again != got {
		t.Errorf("second install changed the rules:\n%s\nwant:\n%s", again, got)
	}
	if err := syncRules(ctx, []*Record{b}); err != nil {
		t.Fatal(err)
	}
	if got := sh(t, "nft list table inet "+rulesTable); strings.Contains(got, "berth0000000a\" oifname") || !strings.Contains(got, "berth0000000b") {
		t.Errorf("after removing p_a:\n%s", got)
	}
	if err := syncRules(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if got := sh(t, "nft list ruleset"); got != "" {
		t.Errorf("rules left after the last network:\n%s", got)
	}
}
