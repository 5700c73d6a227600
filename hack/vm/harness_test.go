package vm

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The harness's own failures name what is missing (fast; no VM boots).

func TestCheckToolsNamesMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	err := checkTools()
	if err == nil || !strings.Contains(err.Error(), "qemu-system-x86_64 (Debian package qemu-system-x86)") ||
		!strings.Contains(err.Error(), "mmdebstrap (Debian package mmdebstrap)") {
		t.Fatalf("checkTools with an empty PATH: %v", err)
	}
}

func TestAptSourcesMissing(t *testing.T) {
	etc := t.TempDir()
	if _, err := aptSources(etc); err == nil || !strings.Contains(err.Error(), "no apt sources") {
		t.Fatalf("no sources: %v", err)
	}
	// A third-party source alone is not a Debian mirror.
	if err := os.MkdirAll(filepath.Join(etc, "apt/sources.list.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(etc, "apt/sources.list.d/vendor.list"), []byte("deb https://example.invalid/apt stable main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := aptSources(etc); err == nil {
		t.Fatal("a vendor source alone was taken for a Debian mirror")
	}
	deb := "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
	if err := os.WriteFile(filepath.Join(etc, "apt/sources.list.d/debian.sources"), []byte(deb), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := aptSources(etc)
	if err != nil || len(got) != 1 || !strings.HasSuffix(got[0], "debian.sources") {
		t.Fatalf("aptSources = %v, %v; want only debian.sources", got, err)
	}
}

func TestKernelMissing(t *testing.T) {
	if _, _, err := kernel(t.TempDir()); err == nil || !strings.Contains(err.Error(), "linux-image-amd64") {
		t.Fatalf("a rootfs without /boot: %v", err)
	}
}

// TestHungVMIsKilled: a machine that never powers off (here: firmware
// with nothing to boot) is killed at the timeout, and the error says so
// and carries the console's tail.
func TestHungVMIsKilled(t *testing.T) {
	if err := checkTools(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	m := Machine{Root: filepath.Join(dir, "root.img"), Results: filepath.Join(dir, "results.img"),
		Console: filepath.Join(dir, "console.log"), CPUs: 1, MemoryMB: 128}
	for _, f := range []string{m.Root, m.Results} {
		if err := os.WriteFile(f, make([]byte, 1<<20), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	_, err := m.Boot(context.Background(), 3*time.Second)
	if err == nil || !strings.Contains(err.Error(), "did not power off within 3s and was killed") || !strings.Contains(err.Error(), "console tail") {
		t.Fatalf("a hung VM: %v", err)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("killing the hung VM took %s", took)
	}
}

func TestParseGuestOutput(t *testing.T) {
	raw := "=== RUN   TestBoot1\n=== RUN   TestBoot1/A\n    x_test.go:1: hello\n--- PASS: TestBoot1/A (0.00s)\n=== RUN   TestBoot1/B\n    x_test.go:2: boom\n--- FAIL: TestBoot1/B (0.00s)\n--- FAIL: TestBoot1 (0.00s)\nFAIL\n"
	res, err := parseGuestOutput(context.Background(), []byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range res {
		got[r.name] = r.action
	}
	want := map[string]string{"TestBoot1": "fail", "TestBoot1/A": "pass", "TestBoot1/B": "fail"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
	for _, r := range res {
		if r.name == "TestBoot1/B" && !strings.Contains(r.output.String(), "boom") {
			t.Errorf("B's output lost: %q", r.output.String())
		}
	}
}

// Under `make test` the harness runs as a sub-make's child; the package
// list it reads must still be package names only (CI once got
// "make[2]: Entering directory ..." in it and mmdebstrap failed).
func TestMakePackagesUnderMake(t *testing.T) {
	t.Setenv("MAKELEVEL", "2")
	t.Setenv("MAKEFLAGS", "w")
	pkgs, err := makePackages(context.Background(), "../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pkgs {
		if strings.ContainsAny(p, ":/[") {
			t.Fatalf("package list holds %q: %v", p, pkgs)
		}
	}
	if !slices.Contains(pkgs, "nftables") {
		t.Fatalf("DEB_PACKAGES lacks nftables: %v", pkgs)
	}
}
