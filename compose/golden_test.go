package compose

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/golden")

// TestGolden loads every testdata/golden/<case>/ project and compares the
// model (expected.json), the warnings (warnings.txt) or the error
// (error.txt) with the files there; `go test ./compose -update` rewrites
// them. A case may hold:
//   - environ: KEY=VALUE lines, the whole process environment of the load
//     (default: empty, so the caller's environment never leaks in);
//   - profiles: a comma-separated list passed as WithProfiles;
//   - selinux: "on" loads as on a host with SELinux enabled (default off);
//   - arch: the host architecture to load as (default amd64).
//
// Absolute paths read $DIR (the case directory) and $ROOT (testdata/golden,
// the config root the case is loaded under).
func TestGolden(t *testing.T) {
	root, err := filepath.Abs("testdata/golden")
	if err != nil {
		t.Fatal(err)
	}
	cases, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatal("no golden cases")
	}
	for _, ce := range cases {
		if !ce.IsDir() {
			continue
		}
		name := ce.Name()
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(root, name)
			opts := []Option{WithConfigRoot(root), WithEnviron(readLines(t, filepath.Join(dir, "environ")))}
			if prof := readLines(t, filepath.Join(dir, "profiles")); len(prof) > 0 {
				opts = append(opts, WithProfiles(strings.Split(prof[0], ",")...))
			}
			// Cases never depend on the host: amd64 unless "arch" names one.
			arch := "amd64"
			if a := readLines(t, filepath.Join(dir, "arch")); len(a) > 0 {
				arch = a[0]
			}
			opts = append(opts, withArch(arch))
			// Cases never depend on the host's SELinux; "selinux" says on.
			opts = append(opts, withSELinux(len(readLines(t, filepath.Join(dir, "selinux"))) > 0 && readLines(t, filepath.Join(dir, "selinux"))[0] == "on"))
			p, err := LoadProject(context.Background(), name, dir, opts...)
			clean := func(s string) string {
				return strings.ReplaceAll(strings.ReplaceAll(s, dir, "$DIR"), root, "$ROOT")
			}
			got := map[string]string{}
			if err != nil {
				got["error.txt"] = clean(err.Error()) + "\n"
			} else {
				b, err := json.MarshalIndent(p, "", "  ")
				if err != nil {
					t.Fatal(err)
				}
				got["expected.json"] = clean(string(b)) + "\n"
				if len(p.Warnings) > 0 {
					got["warnings.txt"] = clean(strings.Join(p.Warnings, "\n")) + "\n"
				}
			}
			for _, f := range []string{"expected.json", "warnings.txt", "error.txt"} {
				path := filepath.Join(dir, f)
				if *update {
					if got[f] == "" {
						os.Remove(path)
						continue
					}
					if err := os.WriteFile(path, []byte(got[f]), 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(path)
				if err != nil && !os.IsNotExist(err) {
					t.Fatal(err)
				}
				if got[f] != string(want) {
					t.Errorf("%s differs (go test ./compose -update rewrites it):\n--- got\n%s\n--- want\n%s", f, got[f], want)
				}
			}
		})
	}
}

// readLines returns a file's non-empty lines, none when it does not exist.
func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return []string{}
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}
