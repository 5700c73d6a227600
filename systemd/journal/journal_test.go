package journal

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestPick: the reason is the launcher's final error (all its lines), not
// the cleanup's error after it nor the info lines before it; systemd's own
// errors when the unit never ran; the last lines when nothing is an error.
func TestPick(t *testing.T) {
	for _, tc := range []struct {
		file  string
		n     int
		want  []string
		final bool
	}{
		{"launcher-failed.json", 5, []string{
			"berth-launcher: setting up the network: attaching hello-web to its networks: nft not found in $PATH: install Debian package nftables",
			"iptables not found in $PATH: install Debian package iptables",
		}, true},
		{"launcher-failed.json", 1, []string{
			"berth-launcher: setting up the network: attaching hello-web to its networks: nft not found in $PATH: install Debian package nftables",
		}, true},
		{"no-executable.json", 5, []string{
			"berth-hello-web.service: Failed to locate executable /usr/local/bin/berth-launcher: No such file or directory",
			"berth-hello-web.service: Failed at step EXEC spawning /usr/local/bin/berth-launcher: No such file or directory",
		}, true},
		{"killed.json", 2, []string{"line 2", "line 3"}, false},
	} {
		b, err := os.ReadFile(filepath.Join("testdata", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		es, err := parse(b)
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		got, final := pick(es, tc.n)
		if !slices.Equal(got, tc.want) || final != tc.final {
			t.Errorf("%s, %d lines: got %q (final %v), want %q (final %v)", tc.file, tc.n, got, final, tc.want, tc.final)
		}
	}
}
