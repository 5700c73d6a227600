package compose_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/compose"
	"github.com/berth-dev/berth/units"
)

// Fuzzing: any input either loads or fails with an error that names the
// file; nothing panics. `make test` runs each target for 30 s.

func FuzzLoadProject(f *testing.F) {
	seeds, _ := filepath.Glob("../examples/*/compose.yaml")
	more, _ := filepath.Glob("testdata/golden/*/*.yaml")
	for _, s := range append(seeds, more...) {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), "compose.yaml")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := compose.LoadProject(context.Background(), "fuzz", path,
			compose.WithUnitCheck(units.CheckProperty), compose.WithEnviron(nil))
		if err != nil && !strings.Contains(err.Error(), "compose.yaml") {
			t.Fatalf("the error does not name the file: %v", err)
		}
	})
}

// FuzzShortSyntax feeds the one-line forms users type — image reference,
// port and volume — through the loader.
func FuzzShortSyntax(f *testing.F) {
	f.Add("busybox:1.36", "127.0.0.1:8080:80/tcp", "data:/var/lib/data:ro")
	f.Add("127.0.0.1:5050/app@sha256:"+strings.Repeat("a", 64), "8080-8081:80-81", "./web:/srv")
	f.Add("UPPER", "[::1]:53:53/udp", "/etc/x:/x:rw,z")
	f.Fuzz(func(t *testing.T, image, port, volume string) {
		doc := "services:\n  s:\n    image: " + quote(image) +
			"\n    ports: [" + quote(port) + "]\n    volumes: [" + quote(volume) + "]\nvolumes:\n  data: {}\n"
		path := filepath.Join(t.TempDir(), "compose.yaml")
		if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := compose.LoadProject(context.Background(), "fuzz", path, compose.WithEnviron(nil))
		if err != nil && !strings.Contains(err.Error(), "compose.yaml") {
			t.Fatalf("the error does not name the file: %v", err)
		}
	})
}

// quote makes s one YAML double-quoted scalar, whatever it holds.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f || r == 0xfffd:
			b.WriteString("\\x")
			b.WriteString(strings.ToUpper(string("0123456789abcdef"[r>>4&0xf]) + string("0123456789abcdef"[r&0xf])))
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
