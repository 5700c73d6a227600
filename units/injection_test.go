package units_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/berth-dev/berth/compose/model"

	"github.com/coreos/go-systemd/v22/unit"

	"github.com/berth-dev/berth/compose"
	"github.com/berth-dev/berth/compose/kube"
	"github.com/berth-dev/berth/units"
)

// payloads are what issue 16 feeds into every field that reaches a unit:
// line ends (systemd ends a line at '\n' and at '\r'), a specifier, quoting
// characters, a would-be flag and a word separator.
var payloads = map[string]string{
	"newline":   "x\nExecStartPre=/bin/evil",
	"return":    "x\rExecStartPre=/bin/evil",
	"percent":   "x%n",
	"quote":     `x"y`,
	"backslash": `x\y`,
	"dash":      "--host-network",
	"space":     "x --host-network",
}

// injectionField is one input field that reaches a unit: wrap puts the
// payload into a value of that field (nil: the payload itself), file writes
// the config entry p.yaml with the value as a YAML double-quoted string q,
// and want lists what, when the file loads, must appear unchanged among the
// D-Bus properties of its units (what systemd is told, after unquoting).
type injectionField struct {
	name string
	wrap func(payload string) string
	file func(q string) string
	want func(value string) []string
}

const kubeHead = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n"

const composeHead = "services:\n  web:\n    image: busybox\n"

func exactly(v string) []string { return []string{v} }

var injectionFields = []injectionField{
	{"compose service name", nil, func(q string) string {
		return "services:\n  " + q + ":\n    image: busybox\n"
	}, nil},
	{"compose image", nil, func(q string) string {
		return "services:\n  web:\n    image: " + q + "\n"
	}, nil},
	{"x-berth.unit After", func(p string) string { return "a" + p + ".service" }, func(q string) string {
		return composeHead + "    x-berth:\n      unit:\n        After: " + q + "\n"
	}, strings.Fields},
	{"x-berth.unit TimeoutStartSec", nil, func(q string) string {
		return composeHead + "    x-berth:\n      unit:\n        TimeoutStartSec: " + q + "\n"
	}, nil},
	{"x-berth.sockets listen", nil, func(q string) string {
		return composeHead + "    x-berth:\n      sockets:\n      - listen: " + q + "\n"
	}, exactly},
	{"x-berth.sockets listen path", func(p string) string { return "/run/" + p + ".sock" }, func(q string) string {
		return composeHead + "    x-berth:\n      sockets:\n      - listen: " + q + "\n"
	}, exactly},
	{"x-berth.sockets name", nil, func(q string) string {
		return composeHead + "    x-berth:\n      sockets:\n      - listen: 127.0.0.1:8080\n        name: " + q + "\n"
	}, exactly},
	{"kube metadata.name", nil, func(q string) string {
		return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + q + "\nspec:\n  containers:\n  - name: c\n    image: busybox\n"
	}, nil},
	{"kube hostname", nil, func(q string) string {
		return kubeHead + "  hostname: " + q + "\n  containers:\n  - name: c\n    image: busybox\n"
	}, nil},
	{"kube container name", nil, func(q string) string {
		return kubeHead + "  containers:\n  - name: " + q + "\n    image: busybox\n"
	}, nil},
	{"kube image", nil, func(q string) string {
		return kubeHead + "  containers:\n  - name: c\n    image: " + q + "\n"
	}, nil},
	{"kube claimName", nil, func(q string) string {
		return kubeHead + "  containers:\n  - name: c\n    image: busybox\n    volumeMounts:\n    - name: v\n      mountPath: /v\n" +
			"  volumes:\n  - name: v\n    persistentVolumeClaim:\n      claimName: " + q + "\n"
	}, nil},
}

// fileLine is how a load error names where the bad value is written:
// file:line, or yaml.v3's "file: line N:" for a file that is not YAML.
var fileLine = regexp.MustCompile(`p\.yaml(:\d+|: line \d+): `)

// TestInjection feeds every payload into every field that reaches a unit.
// Each must be refused at load with file:line, or round-trip exactly: the
// written unit file parses back (go-systemd's unit.Deserialize) to the same
// options, the D-Bus properties carry the payload unchanged, and
// systemd-analyze verify accepts the files.
func TestInjection(t *testing.T) {
	for _, f := range injectionFields {
		for pname, payload := range payloads {
			t.Run(f.name+"/"+pname, func(t *testing.T) {
				value := payload
				if f.wrap != nil {
					value = f.wrap(payload)
				}
				dir := t.TempDir()
				text := f.file(strconv.Quote(value))
				if err := os.WriteFile(filepath.Join(dir, "p.yaml"), []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
				entries, err := compose.LoadDir(context.Background(), dir, compose.WithKubeLoader(kube.Load), compose.WithUnitCheck(units.CheckProperty))
				if err != nil || len(entries) != 1 {
					t.Fatalf("LoadDir: %v, %d entries", err, len(entries))
				}
				e := entries[0]
				if e.Err != nil {
					if !fileLine.MatchString(e.Err.Error()) {
						t.Fatalf("refused without file:line: %v", e.Err)
					}
					return
				}
				var want []string
				if f.want != nil {
					want = f.want(value)
				}
				roundTrip(t, e.Project, want)
			})
		}
	}
}

// roundTrip builds p's units, checks that each parses back to its own
// options, that want appears among the D-Bus property strings, and that
// systemd-analyze verify accepts the files.
func roundTrip(t *testing.T, p *model.Project, want []string) {
	t.Helper()
	cfg := units.Config{Binary: "/bin/true", UnitFile: true}
	var all []*units.Unit
	for i := range p.Services {
		svc := &p.Services[i]
		set, err := units.Build(cfg, svc, specPath(t, "/var/lib/berth", svc))
		if err != nil {
			t.Fatalf("loaded, then refused by units.Build (no file:line): %v", err)
		}
		all = append(all, set.Files()...)
	}
	for _, pod := range p.Pods {
		all = append(all, units.Pod(cfg, p.Name, pod))
	}
	var seen []string
	for _, u := range all {
		checkDeserialize(t, u)
		props, err := u.Properties()
		if err != nil {
			t.Fatalf("%s: Properties: %v", u.Name, err)
		}
		for _, pr := range props {
			seen = append(seen, strings_(reflect.ValueOf(pr.Value.Value()))...)
		}
	}
	for _, w := range want {
		found := false
		for _, s := range seen {
			found = found || s == w
		}
		if !found {
			t.Errorf("%q is not among the D-Bus property values %q", w, seen)
		}
	}
	verify(t, all)
}

// checkDeserialize parses u's text back and compares it with u's options,
// grouped by section as Text writes them.
func checkDeserialize(t *testing.T, u *units.Unit) {
	t.Helper()
	got, err := unit.Deserialize(strings.NewReader(u.Text()))
	if err != nil {
		t.Fatalf("%s: Deserialize: %v\n%s", u.Name, err, u.Text())
	}
	var order []string
	bySection := map[string][]*unit.UnitOption{}
	for _, o := range u.Options {
		if _, ok := bySection[o.Section]; !ok {
			order = append(order, o.Section)
		}
		bySection[o.Section] = append(bySection[o.Section], o)
	}
	var wantOpts []*unit.UnitOption
	for _, s := range order {
		wantOpts = append(wantOpts, bySection[s]...)
	}
	if !unit.AllMatch(got, wantOpts) {
		t.Fatalf("%s: unit file does not parse back to its options:\n%s", u.Name, u.Text())
	}
}

// strings_ collects every string inside v (strings, slices, structs).
func strings_(v reflect.Value) []string {
	switch v.Kind() {
	case reflect.String:
		return []string{v.String()}
	case reflect.Slice, reflect.Array:
		var out []string
		for i := 0; i < v.Len(); i++ {
			out = append(out, strings_(v.Index(i))...)
		}
		return out
	case reflect.Struct:
		var out []string
		for i := 0; i < v.NumField(); i++ {
			out = append(out, strings_(v.Field(i))...)
		}
		return out
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return strings_(v.Elem())
	}
	return nil
}

// verify runs systemd-analyze verify over the units, written together.
func verify(t *testing.T, us []*units.Unit) {
	t.Helper()
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Fatal("systemd-analyze is required (apt-get install systemd)")
	}
	dir := t.TempDir()
	var paths []string
	for _, u := range us {
		path := filepath.Join(dir, u.Name)
		if err := os.WriteFile(path, []byte(u.Text()), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
	}
	out, err := exec.Command("systemd-analyze", append([]string{"verify", "--man=no"}, paths...)...).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestDirsRoundTrip: the directories units pass on (the operator's, not
// the config files') may hold spaces, quotes, '%', '$' and backslashes;
// ExecStart= and Environment= carry them unchanged.
func TestDirsRoundTrip(t *testing.T) {
	odd := `/var/lib/a b%n"c\d$e`
	cfg := units.Config{Binary: "/bin/true", StateDir: odd, RunDir: "/run/x y", UnitFile: true}
	svc := &model.Service{Project: "p", Name: "web", Image: "busybox"}
	spec := odd + "/specs/p-web-0123456789abcdef.json"
	set, err := units.Build(cfg, svc, spec)
	if err != nil {
		t.Fatal(err)
	}
	u := set.Service
	checkDeserialize(t, u)
	props, err := u.Properties()
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, pr := range props {
		for _, s := range strings_(reflect.ValueOf(pr.Value.Value())) {
			// systemd substitutes $VAR in commands at exec time, D-Bus
			// ones too, and turns "$$" into "$".
			seen = append(seen, strings.ReplaceAll(s, "$$", "$"))
		}
	}
	for _, w := range []string{spec, "BERTH_STATE_DIR=" + odd, "BERTH_RUN_DIR=/run/x y", "/run/x y/containers/p-web/pid", "--", "p-web"} {
		found := false
		for _, s := range seen {
			found = found || s == w
		}
		if !found {
			t.Errorf("%q is not among the D-Bus property values %q", w, seen)
		}
	}
	verify(t, []*units.Unit{u})
}

// TestPodHostnameStaysOneArgument: even a hostname the loader would refuse
// reaches pod-run as the value of --hostname, never as a flag of its own.
func TestPodHostnameStaysOneArgument(t *testing.T) {
	u := units.Pod(units.Config{Binary: "/usr/bin/berth"}, "p", &model.Pod{Name: "pod", Hostname: "x --host-network"})
	checkDeserialize(t, u)
	props, err := u.Properties()
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range props {
		if pr.Name != "ExecStart" {
			continue
		}
		got := strings_(reflect.ValueOf(pr.Value.Value()))
		want := []string{"/usr/bin/berth", "/usr/bin/berth", "pod-run", "--hostname", "x --host-network", "--", "p"}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("ExecStart argv %q, want %q", got, want)
		}
		return
	}
	t.Fatal("no ExecStart")
}
