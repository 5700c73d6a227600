package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/berth-dev/berth/compose/model"
	"github.com/berth-dev/berth/runtime/network"
	"github.com/berth-dev/berth/units"
)

var (
	berthBinOnce sync.Once
	berthBin     string
	berthBinErr  error
)

// TestMain removes the binary buildBerth built.
func TestMain(m *testing.M) {
	code := m.Run()
	if berthBin != "" {
		os.RemoveAll(filepath.Dir(berthBin))
	}
	os.Exit(code)
}

// buildBerth builds the berth binary once, into a directory anyone may
// read, so the tests can run it as nobody.
func buildBerth(t *testing.T) string {
	t.Helper()
	berthBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "berth-config-test-")
		if err != nil {
			berthBinErr = err
			return
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			berthBinErr = err
			return
		}
		berthBin = filepath.Join(dir, "berth")
		out, err := exec.Command("go", "build", "-o", berthBin, ".").CombinedOutput()
		if err != nil {
			berthBinErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if berthBinErr != nil {
		t.Fatal(berthBinErr)
	}
	return berthBin
}

type configRun struct {
	code           int
	stdout, stderr string
}

// runBerthConfig runs `berth config args…` as nobody (when the test runs as
// root), with environ as its whole environment: no D-Bus address, no
// systemd reachable. The config dir is an empty one of its own (with
// berth.yaml's profiles when given), and the state dir must stay absent.
func runBerthConfig(t *testing.T, environ []string, profiles string, args ...string) configRun {
	t.Helper()
	return runBerthOffline(t, environ, profiles, "config", args...)
}

// runBerthOffline is runBerthConfig for any offline command: config, or
// plan --offline.
func runBerthOffline(t *testing.T, environ []string, profiles, command string, args ...string) configRun {
	t.Helper()
	bin := buildBerth(t)
	dir := publicTempDir(t)
	cfg := filepath.Join(dir, "etc")
	if err := os.Mkdir(cfg, 0o755); err != nil {
		t.Fatal(err)
	}
	if profiles != "" {
		if err := os.WriteFile(filepath.Join(cfg, "berth.yaml"), []byte("profiles: ["+profiles+"]\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	state := filepath.Join(dir, "state")
	argv := append([]string{command, "--config-dir", cfg, "--state-dir", state, "--run-dir", filepath.Join(dir, "run")}, args...)
	var cmd *exec.Cmd
	if os.Geteuid() == 0 {
		cmd = exec.Command("setpriv", append([]string{"--reuid", "65534", "--regid", "65534", "--clear-groups", bin}, argv...)...)
	} else {
		cmd = exec.Command(bin, argv...)
	}
	cmd.Env = append([]string{"PATH=/usr/bin:/bin", "HOME=/nonexistent", "TMPDIR=/tmp"}, environ...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := configRun{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	if _, err := os.Stat(state); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("berth %s %v created the state dir %s", command, args, state)
	}
	if !strings.Contains(r.stderr, offlineNote) {
		t.Errorf("berth %s %v: stderr does not say what was skipped:\n%s", command, args, r.stderr)
	}
	return r
}

// publicTempDir is a temporary directory nobody can read: t.TempDir's
// parent is private to the test's user.
func publicTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "berth-config-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func readLinesOpt(t *testing.T, path string) []string {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

// TestConfigExamples checks every example as a user would in CI: each
// project directory and each Kubernetes file loads cleanly, without root.
func TestConfigExamples(t *testing.T) {
	root, err := filepath.Abs("../../examples")
	if err != nil {
		t.Fatal(err)
	}
	des, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var targets []string
	for _, de := range des {
		p := filepath.Join(root, de.Name())
		if de.Name() == "kube" {
			ks, _ := filepath.Glob(filepath.Join(p, "*.yaml"))
			if len(ks) == 0 {
				t.Fatal("no Kubernetes examples")
			}
			targets = append(targets, ks...)
			continue
		}
		targets = append(targets, p)
	}
	for _, p := range targets {
		t.Run(filepath.Base(p), func(t *testing.T) {
			r := runBerthConfig(t, nil, "", "--strict", p)
			if r.code != 0 {
				t.Fatalf("exit %d:\n%s", r.code, r.stderr)
			}
			if !strings.Contains(r.stdout, "services:") {
				t.Errorf("no model on stdout:\n%s", r.stdout)
			}
		})
	}
}

// TestConfigGolden runs berth config over every golden case of the loader:
// valid ones exit 0 and print the golden model, error cases exit 1 with the
// golden error, file and line included.
func TestConfigGolden(t *testing.T) {
	root, err := filepath.Abs("../../compose/testdata/golden")
	if err != nil {
		t.Fatal(err)
	}
	des, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		if !de.IsDir() {
			continue
		}
		dir := filepath.Join(root, de.Name())
		t.Run(de.Name(), func(t *testing.T) {
			environ := readLinesOpt(t, filepath.Join(dir, "environ"))
			profiles := strings.Join(readLinesOpt(t, filepath.Join(dir, "profiles")), ",")
			r := runBerthConfig(t, environ, profiles, "--format", "json", dir)
			clean := func(s string) string {
				return strings.ReplaceAll(strings.ReplaceAll(s, dir, "$DIR"), root, "$ROOT")
			}
			arch := readLinesOpt(t, filepath.Join(dir, "arch"))
			selinux := readLinesOpt(t, filepath.Join(dir, "selinux"))
			diff, byDesign := dirLoaderDiffs[de.Name()]
			wantErr := diff.err
			if b, err := os.ReadFile(filepath.Join(dir, "error.txt")); err == nil {
				wantErr = strings.TrimSpace(string(b))
			} else if len(arch) > 0 && arch[0] != runtime.GOARCH {
				// This host cannot run the case's platform, and says where.
				wantErr = "$DIR/compose.yaml:4: service \"a\": platform: "
			}
			if wantErr != "" {
				if r.code != 1 {
					t.Fatalf("exit %d for an error case, want 1:\n%s", r.code, r.stderr)
				}
				if got := clean(r.stderr); !strings.Contains(got, "error: "+wantErr) {
					t.Errorf("stderr does not hold the error %q:\n%s", wantErr, got)
				}
				return
			}
			if r.code != 0 {
				t.Fatalf("exit %d:\n%s", r.code, r.stderr)
			}
			if len(selinux) > 0 {
				return // the model and warnings follow the host's SELinux; the exit status counts
			}
			if !byDesign {
				for _, w := range readGoldenLines(t, filepath.Join(dir, "warnings.txt")) {
					if !strings.Contains(clean(r.stderr), "warning: "+w+"\n") {
						t.Errorf("stderr lacks the golden warning %q:\n%s", w, clean(r.stderr))
					}
				}
			}
			out := clean(r.stdout)
			if diff.name != "" {
				out = strings.ReplaceAll(out, `"`+diff.name, `"`+de.Name())
			}
			want, err := os.ReadFile(filepath.Join(dir, "expected.json"))
			if err != nil {
				t.Fatal(err)
			}
			var got []any
			if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 1 {
				t.Fatalf("stdout is not one project as JSON (%v):\n%s", err, r.stdout)
			}
			var exp any
			if err := json.Unmarshal(want, &exp); err != nil {
				t.Fatal(err)
			}
			redactAny(exp)
			if !reflect.DeepEqual(got[0], exp) {
				g, _ := json.MarshalIndent(got[0], "", "  ")
				t.Errorf("model differs from expected.json:\n%s", g)
			}
		})
	}
}

// dirLoaderDiffs are the golden cases where berth config, loading as
// apply loads the config dir, rightly differs from compose's golden test,
// which loads one project under a name it chooses and without the unit
// property check.
var dirLoaderDiffs = map[string]struct{ name, err string }{
	// The project's own name (top-level name:, .env) is honoured.
	"loading-name":           {name: "something-else"},
	"loading-dotenv-environ": {name: "ignored-when-explicit"},
	// units.CheckProperty refuses what systemd would refuse at apply.
	"xberth": {err: `$DIR/compose.yaml:15: service "notify": x-berth.unit.IOAccounting: unsupported property`},
}

func readGoldenLines(t *testing.T, path string) []string {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}

// redactAny does to a decoded expected.json what config does to secrets.
func redactAny(v any) {
	switch v := v.(type) {
	case map[string]any:
		if v["secret"] == true {
			if _, ok := v["content"]; ok {
				v["content"] = redacted
			}
		}
		for _, c := range v {
			redactAny(c)
		}
	case []any:
		for _, c := range v {
			redactAny(c)
		}
	}
}

// TestConfigUnitsTestdata loads the units package's golden inputs.
func TestConfigUnitsTestdata(t *testing.T) {
	files, _ := filepath.Glob("../../units/testdata/*.yaml")
	if len(files) == 0 {
		t.Fatal("no units testdata")
	}
	for _, f := range files {
		abs, _ := filepath.Abs(f)
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := runBerthConfig(t, nil, "", "--services", abs)
			if r.code != 0 || r.stdout == "" {
				t.Fatalf("exit %d, services %q:\n%s", r.code, r.stdout, r.stderr)
			}
		})
	}
}

// TestConfigHashMatchesApply: --hash prints what apply puts in the unit on
// an empty host: the config dir loaded as apply loads it, addresses
// reserved, then the service's and the pod's spec hash.
func TestConfigHashMatchesApply(t *testing.T) {
	cfg := publicTempDir(t)
	for src, dst := range map[string]string{
		"../../examples/webapp":         "webapp",
		"../../examples/hello":          "hello",
		"../../examples/kube/web.yaml":  "web.yaml",
		"../../examples/kube/shop.yaml": "shop.yaml",
	} {
		if out, err := exec.Command("cp", "-r", src, filepath.Join(cfg, dst)).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v %s", err, out)
		}
	}
	ctx := context.Background()
	entries, err := loadConfigDir(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	// As apply with images that declare no HEALTHCHECK (busybox): the
	// image's check settled, then the pass allocates (reserving) before anything hashes.
	noImageCheck := func(string) (*model.Health, error) { return nil, nil }
	if failed := model.SettleEntriesImageHealth(entries, noImageCheck); len(failed) > 0 {
		t.Fatalf("settling image health failed for entries %v", failed)
	}
	alloc := network.Allocator{Paths: network.Paths{StateDir: state, RunDir: state}}
	if err := alloc.Allocate(ctx, entries, nil, true); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, e := range entries {
		if e.Err != nil {
			t.Fatal(e.Err)
		}
		for _, pod := range e.Project.Pods {
			name := e.Name // a file's only pod
			if len(e.Project.Pods) > 1 {
				name += "/.pod." + pod.Name
			}
			want = append(want, name+"\t"+units.PodHash(pod))
		}
		for i := range e.Project.Services {
			s := &e.Project.Services[i]
			if len(s.Networks) > 0 && !hasAddress(s) {
				t.Fatalf("%s/%s got no address: the comparison would not cover them", e.Name, s.Name)
			}
			want = append(want, e.Name+"/"+s.Name+"\t"+s.Hash())
		}
	}
	r := runBerthConfig(t, nil, "", "--hash", cfg+"/webapp", cfg+"/hello", cfg+"/web.yaml", cfg+"/shop.yaml")
	if r.code != 0 {
		t.Fatalf("exit %d:\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "assume their image declares no HEALTHCHECK") {
		t.Errorf("stderr does not say what the hashes assume of the images:\n%s", r.stderr)
	}
	if got := strings.Split(strings.TrimSpace(r.stdout), "\n"); !reflect.DeepEqual(sorted(got), sorted(want)) {
		t.Errorf("berth config --hash:\n%s\nwant (apply's hashes):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func hasAddress(s *model.Service) bool {
	for _, a := range s.Networks {
		if a.IPv4 != "" {
			return true
		}
	}
	return false
}

func sorted(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// TestConfigStrict: a field berth does not know is a warning with file and
// line; exit 0, and 1 under --strict.
func TestConfigStrict(t *testing.T) {
	dir := publicTempDir(t)
	f := filepath.Join(dir, "app.yaml")
	if err := os.WriteFile(f, []byte("services:\n  a:\n    image: busybox\n    x-berth:\n      bogus: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runBerthConfig(t, nil, "", f)
	if r.code != 0 {
		t.Fatalf("exit %d without --strict:\n%s", r.code, r.stderr)
	}
	if want := "warning: " + f + ":5: "; !strings.Contains(r.stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
	}
	if r := runBerthConfig(t, nil, "", "--strict", f); r.code != 1 {
		t.Errorf("exit %d with --strict and a warning, want 1:\n%s", r.code, r.stderr)
	}
	// A typo in berth.yaml is a warning of the config dir's.
	cfg := filepath.Join(dir, "etc")
	if err := os.Mkdir(cfg, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg, "berth.yaml"), []byte("profils: [debug]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = runBerthConfig(t, nil, "", "--config-dir", cfg, "--strict")
	if want := "warning: " + cfg + "/berth.yaml:1: "; r.code != 1 || !strings.Contains(r.stderr, want) {
		t.Errorf("exit %d (want 1), stderr lacks %q:\n%s", r.code, want, r.stderr)
	}
}

// TestConfigServices lists the services in dependency order; a project is
// named as in the config dir, or given as a path.
func TestConfigServices(t *testing.T) {
	abs, _ := filepath.Abs("../../examples/webapp")
	r := runBerthConfig(t, nil, "", "--services", abs)
	if want := "webapp/db\nwebapp/migrate\nwebapp/web\nwebapp/worker\n"; r.code != 0 || r.stdout != want {
		t.Errorf("exit %d, services:\n%s\nwant:\n%s\n%s", r.code, r.stdout, want, r.stderr)
	}
	examples, _ := filepath.Abs("../../examples")
	r = runBerthConfig(t, nil, "", "--config-dir", examples, "--services", "hello")
	if want := "hello/ticker\nhello/web\n"; r.code != 0 || r.stdout != want {
		t.Errorf("exit %d, services of project hello:\n%s\nwant:\n%s\n%s", r.code, r.stdout, want, r.stderr)
	}
	// Secrets never reach the output.
	r = runBerthConfig(t, nil, "", abs)
	if strings.Contains(r.stdout, "ZXhhbXBsZS1wYXNzd29yZAo=") || !strings.Contains(r.stdout, redacted) {
		t.Errorf("secret content not redacted:\n%s", r.stdout)
	}
}

// TestPlanOffline: without systemd, plan --offline lists a create for every
// service, in the order apply starts them; a broken file fails it with file
// and line.
func TestPlanOffline(t *testing.T) {
	webapp, _ := filepath.Abs("../../examples/webapp")
	r := runBerthOffline(t, nil, "", "plan", "--offline", "--detailed-exitcode", webapp)
	want := "+ create webapp/db (berth-webapp-db.service)\n" +
		"+ create webapp/migrate (berth-webapp-migrate.service)\n" +
		"+ create webapp/web (berth-webapp-web.service)\n" +
		"+ create webapp/worker (berth-webapp-worker.service)\n"
	if r.code != 2 || r.stdout != want {
		t.Errorf("exit %d (want 2: changes), plan:\n%s\nwant:\n%s\n%s", r.code, r.stdout, want, r.stderr)
	}
	broken, _ := filepath.Abs("../../compose/testdata/golden/error-env-file")
	r = runBerthOffline(t, nil, "", "plan", "--offline", broken)
	if want := broken + "/compose.yaml:4: "; r.code != 1 || !strings.Contains(r.stdout+r.stderr, want) {
		t.Errorf("exit %d (want 1), output lacks %q:\n%s\n%s", r.code, want, r.stdout, r.stderr)
	}
}

// TestConfigGoldenDirs runs berth config over each config dir of the
// loader's directory cases (compose/testdata/dirs): the services, errors
// and warnings its golden .txt lists, and exit 1 when it lists an error.
func TestConfigGoldenDirs(t *testing.T) {
	root, err := filepath.Abs("../../compose/testdata")
	if err != nil {
		t.Fatal(err)
	}
	txts, _ := filepath.Glob(filepath.Join(root, "dirs", "*.txt"))
	if len(txts) == 0 {
		t.Fatal("no directory cases")
	}
	for _, txt := range txts {
		dir := strings.TrimSuffix(txt, ".txt")
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var services, errs, warns []string
			project := ""
			for _, l := range readGoldenLines(t, txt) {
				k, v, _ := strings.Cut(strings.TrimSpace(l), ": ")
				switch k {
				case "project":
					project = strings.Trim(v, `"`)
				case "service":
					services = append(services, project+"/"+strings.Fields(v)[0])
				case "error":
					errs = append(errs, v)
				case "warning":
					warns = append(warns, v)
				}
			}
			r := runBerthConfig(t, nil, "", "--config-dir", dir, "--services")
			clean := strings.ReplaceAll(r.stderr, root, "$ROOT")
			if want := map[bool]int{true: 1, false: 0}[len(errs) > 0]; r.code != want {
				t.Errorf("exit %d, want %d:\n%s", r.code, want, clean)
			}
			if got := strings.Fields(r.stdout); !reflect.DeepEqual(sorted(got), sorted(services)) {
				t.Errorf("services %v, want %v", got, services)
			}
			for _, e := range errs {
				if !strings.Contains(clean, "error: "+e+"\n") {
					t.Errorf("stderr lacks error %q:\n%s", e, clean)
				}
			}
			for _, w := range warns {
				if !strings.Contains(clean, "warning: "+w+"\n") {
					t.Errorf("stderr lacks warning %q:\n%s", w, clean)
				}
			}
		})
	}
}

// TestConfigExternalNetwork: a network only the host can have is not an
// error offline; stderr says the project's hashes are not final.
func TestConfigExternalNetwork(t *testing.T) {
	dir := publicTempDir(t)
	f := filepath.Join(dir, "ext.yaml")
	body := "services:\n  a:\n    image: busybox\n    networks: [shared]\nnetworks:\n  shared:\n    external: true\n"
	if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runBerthConfig(t, nil, "", "--hash", f)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "ext/a\t") {
		t.Fatalf("exit %d, hashes %q:\n%s", r.code, r.stdout, r.stderr)
	}
	if want := f + ": hash not final: it joins an external network"; !strings.Contains(r.stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
	}
}

// TestConfigKubeNamespace: berth config over a config dir of Kubernetes
// files whose Pods read ConfigMaps, Secrets and a claim of other files:
// every Pod loads, cleanly, and the data files are no projects, also when
// named as a path.
func TestConfigKubeNamespace(t *testing.T) {
	dir, _ := filepath.Abs("../../compose/kube/testdata/namespace")
	r := runBerthConfig(t, nil, "", "--config-dir", dir, "--strict", "--services")
	want := "db-client/client\ndownward-env/app\ndownward-volume/main\ndownward-volume/helper\nlisted/app\nsettings-volume/reader\n" +
		"shared-volume/server\nshared-volume/writer\nshop-envfrom/show\nuploads-pod/web\nwith-init/wait-for-settings\nwith-init/fetch\nwith-init/app\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("exit %d, services:\n%s\nwant:\n%s\n%s", r.code, r.stdout, want, r.stderr)
	}
	r = runBerthConfig(t, nil, "", "--strict", filepath.Join(dir, "shop-settings.yaml"))
	if r.code != 0 || strings.TrimSpace(r.stdout) != "" {
		t.Errorf("a data file: exit %d, output:\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}
