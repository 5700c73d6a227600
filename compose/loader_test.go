package compose

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestProjectNameFromFile: without a name from the caller, the file's
// top-level name applies, as with docker compose without -p.
func TestProjectNameFromFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "p.yaml")
	write(t, f, "name: shop\nservices:\n  web:\n    image: busybox\n")
	p, err := LoadProject(context.Background(), "", f, WithEnviron(nil))
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "shop" || p.Services[0].Project != "shop" || p.Networks["default"].Name != "shop_default" {
		t.Fatalf("want project shop, got %q / %q / %+v", p.Name, p.Services[0].Project, p.Networks)
	}
	if len(p.Warnings) != 0 {
		t.Fatalf("unexpected warnings %v", p.Warnings)
	}
}

// TestMountedConfigEditChangesHash: editing a file bind-mounted read-only
// from the config dir changes the service's spec hash, so the reconciler
// recreates it; a writable bind (data) never does.
func TestMountedConfigEditChangesHash(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "app/compose.yaml"), `
services:
  web:
    image: busybox
    volumes:
      - ./web.conf:/etc/web.conf:ro
      - ./conf.d:/etc/conf.d:ro
  db:
    image: busybox
    volumes: ["./data:/data"]
`)
	write(t, filepath.Join(root, "app/web.conf"), "port 80\n")
	write(t, filepath.Join(root, "app/conf.d/a.conf"), "a\n")
	write(t, filepath.Join(root, "app/data/db"), "rows\n")
	hashes := func() (web, db string) {
		t.Helper()
		entries, err := LoadDir(context.Background(), root, WithEnviron(nil))
		if err != nil || len(entries) != 1 || entries[0].Err != nil {
			t.Fatalf("load: %v %+v", err, entries)
		}
		for _, s := range entries[0].Project.Services {
			if s.Name == "web" {
				web = s.Hash()
			} else {
				db = s.Hash()
			}
		}
		return web, db
	}
	web0, db0 := hashes()
	write(t, filepath.Join(root, "app/data/db"), "more rows\n")
	if web, db := hashes(); web != web0 || db != db0 {
		t.Fatal("writing into a writable bind (data) must not change any hash")
	}
	write(t, filepath.Join(root, "app/web.conf"), "port 8080\n")
	web1, _ := hashes()
	if web1 == web0 {
		t.Fatal("editing a read-only mounted file must change the hash")
	}
	write(t, filepath.Join(root, "app/conf.d/b.conf"), "b\n")
	web2, _ := hashes()
	if web2 == web1 {
		t.Fatal("adding a file to a read-only mounted dir must change the hash")
	}
	if err := os.Chmod(filepath.Join(root, "app/conf.d/b.conf"), 0o755); err != nil {
		t.Fatal(err)
	}
	if web3, _ := hashes(); web3 == web2 {
		t.Fatal("making a mounted file executable must change the hash")
	}
}

// TestLoadProjectCollectsAllErrors: several bad fields are reported at once,
// each with its own line.
func TestLoadProjectCollectsAllErrors(t *testing.T) {
	f := filepath.Join(t.TempDir(), "p.yaml")
	write(t, f, `services:
  a:
    image: busybox
    cap_add: [BOGUS]
  b:
    image: busybox
    sysctls: {vm.swappiness: "10"}
    restart: sometimes
`)
	_, err := LoadProject(context.Background(), "p", f, WithEnviron(nil))
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{f + `:4: service "a": cap_add.0`, f + `:7: service "b": sysctls.vm.swappiness`, f + `:8: service "b": restart`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

// TestCheckListen: the socket addresses units writes as they are.
func TestCheckListen(t *testing.T) {
	for _, ok := range []string{"8080", "127.0.0.1:8080", "[::1]:53", "udp:5353", "udp:127.0.0.1:53", "tcp:127.0.0.1:80", "/run/app.sock"} {
		if err := checkListen(ok); err != nil {
			t.Errorf("checkListen(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a b:80", "localhost:80", "x --host-network", "/run/a b.sock", "/run/../x.sock", "/run/a\rb.sock", "0"} {
		if err := checkListen(bad); err == nil {
			t.Errorf("checkListen(%q): no error", bad)
		}
	}
}
