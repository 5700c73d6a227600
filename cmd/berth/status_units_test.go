package main

import (
	"errors"
	"strings"
	"testing"
)

// TestPrintFailing: each failing unit shows its state and its reason
// lines; a unit without one points at journalctl; no systemd says so.
func TestPrintFailing(t *testing.T) {
	var b strings.Builder
	printFailing(&b, []failingUnit{
		{Unit: "berth-hello-web.service", Project: "hello", Service: "web", State: "failed/failed", Result: "exit-code",
			Reason: []string{"berth-launcher: nft not found in $PATH: install Debian package nftables"}},
		{Unit: "berth-hello-db.service", Project: "hello", Service: "db", State: "activating/auto-restart", Result: "timeout", Restarts: 3},
	}, nil)
	want := `failing units:
  hello/web (berth-hello-web.service): failed/failed, result exit-code, 0 restarts
    berth-launcher: nft not found in $PATH: install Debian package nftables
  hello/db (berth-hello-db.service): activating/auto-restart, result timeout, 3 restarts
    (no error in its journal; see journalctl -u berth-hello-db.service)
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	printFailing(&b, nil, nil)
	if b.String() != "failing units:  none\n" {
		t.Errorf("none: %q", b.String())
	}
	b.Reset()
	printFailing(&b, nil, errors.New("connecting to systemd: no such file"))
	if !strings.Contains(b.String(), "failing units:  unknown (connecting to systemd: no such file)") {
		t.Errorf("no systemd: %q", b.String())
	}
}
