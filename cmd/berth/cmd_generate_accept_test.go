package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGenerateSystemdAccept: an accepting service (accept: true) exports
// as an Accept=yes .socket enabled into sockets.target and the template
// service it instantiates per connection; systemd's validator takes both.
func TestGenerateSystemdAccept(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Fatal("systemd-analyze is required (apt-get install systemd)")
	}
	tmp := t.TempDir()
	g := &globalOptions{ConfigDir: filepath.Join(tmp, "etc"), StateDir: filepath.Join(tmp, "state"), RunDir: "/run/berth"}
	src, err := os.ReadFile("../../units/testdata/accept.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(g.ConfigDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(g.ConfigDir, "accept.yaml"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(tmp, "units")
	var printed bytes.Buffer
	if err := runGenerateSystemd(context.Background(), g, &generateOptions{Output: out, Binary: "/bin/true"}, "accept", &printed); err != nil {
		t.Fatal(err)
	}
	sock, tpl := filepath.Join(out, "berth-accept-echo.socket"), filepath.Join(out, "berth-accept-echo@.service")
	if !strings.Contains(printed.String(), sock) || !strings.Contains(printed.String(), tpl) {
		t.Fatalf("generate wrote:\n%s", printed.String())
	}
	s, _ := os.ReadFile(sock)
	for _, want := range []string{"Accept=yes", "WantedBy=sockets.target", "BERTH_UNIT_FILE=1"} {
		if !strings.Contains(string(s), want) {
			t.Errorf("%s lacks %s:\n%s", sock, want, s)
		}
	}
	if b, _ := os.ReadFile(tpl); !strings.Contains(string(b), "run --wait") || strings.Contains(string(b), "[Install]") {
		t.Errorf("%s:\n%s", tpl, b)
	}
	if o, err := exec.Command("systemd-analyze", "verify", "--man=no", sock, tpl).CombinedOutput(); err != nil || len(o) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, o)
	}
}
