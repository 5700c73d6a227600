package systemd

import (
	"errors"
	"testing"
)

// TestJobErrorSaysWhy: a failed job's error is the unit's reason when one
// was found, systemd's "job failed" otherwise, and errors.Is ErrJobFailed
// either way.
func TestJobErrorSaysWhy(t *testing.T) {
	for _, tc := range []struct {
		err  *JobError
		want string
	}{
		{&JobError{Verb: "starting", Unit: "berth-hello-web.service", Result: "failed",
			Reason: []string{"berth-launcher: nft not found in $PATH: install Debian package nftables", "iptables not found in $PATH: install Debian package iptables"}},
			"starting unit berth-hello-web.service: job failed: berth-launcher: nft not found in $PATH: install Debian package nftables; iptables not found in $PATH: install Debian package iptables"},
		{&JobError{Verb: "restarting", Unit: "berth-hello-web.service", Result: "timeout"},
			"restarting unit berth-hello-web.service: job timeout: systemd job failed"},
		{&JobError{Verb: "starting", Unit: "berth-hello-web.service", Result: "failed", ReasonErr: errors.New("journalctl: not found")},
			"starting unit berth-hello-web.service: job failed: systemd job failed (reading the reason from the journal: journalctl: not found)"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("got  %q\nwant %q", got, tc.want)
		}
		if !errors.Is(tc.err, ErrJobFailed) {
			t.Errorf("%v is not ErrJobFailed", tc.err)
		}
	}
}
