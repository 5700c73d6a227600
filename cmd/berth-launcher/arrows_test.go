package main

import (
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// mod is berth's module path; rules name packages relative to it.
const mod = "github.com/berth-dev/berth"

// listed is one package of `go list -deps -json`.
type listed struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	Imports    []string
	Standard   bool
}

// goList lists every package of the module and everything they import
// (tests excluded: a test may reach across).
func goList(t *testing.T) map[string]*listed {
	t.Helper()
	cmd := exec.Command("go", "list", "-tags", "seccomp", "-deps", "-json", mod+"/...")
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string]*listed{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		p := &listed{}
		if err := dec.Decode(p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs[p.ImportPath] = p
	}
	return pkgs
}

// chain is the import path from one package to another, shortest first,
// as "a → b → c" with the module prefix cut; "" when from does not reach to.
func chain(pkgs map[string]*listed, from, to string) string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if p == to {
			var path []string
			for ; p != ""; p = prev[p] {
				path = append(path, strings.TrimPrefix(p, mod+"/"))
			}
			slices.Reverse(path)
			return strings.Join(path, " → ")
		}
		if pkgs[p] == nil {
			continue
		}
		for _, imp := range pkgs[p].Imports {
			if _, seen := prev[imp]; !seen {
				prev[imp] = p
				queue = append(queue, imp)
			}
		}
	}
	return ""
}

// under reports whether pkg is dir or inside it (dir relative to mod).
func under(pkg, dir string) bool {
	return pkg == mod+"/"+dir || strings.HasPrefix(pkg, mod+"/"+dir+"/")
}

// ours returns the module's own packages.
func ours(pkgs map[string]*listed) []string {
	var out []string
	for p := range pkgs {
		if p == mod || strings.HasPrefix(p, mod+"/") {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// ioPackages are standard packages that do I/O: units may import none.
var ioPackages = []string{"os", "os/exec", "os/signal", "os/user", "io/fs", "io/ioutil", "syscall", "net/http", "net/rpc", "net/smtp", "plugin", "runtime/cgo"}

// pureUses are packages units may import for the few functions of theirs
// that only compute (a signal's number, an address's syntax); any other
// use is I/O or may become it.
var pureUses = map[string][]string{
	"net":                   {"SplitHostPort", "ParseIP"},
	"golang.org/x/sys/unix": {"SignalNum"},
	"path/filepath":         {"Clean", "Join", "Base", "Dir", "Ext", "IsAbs", "Split", "Rel", "ToSlash", "FromSlash", "IsLocal", "SplitList", "VolumeName", "Separator"},
}

// TestImportArrows enforces DESIGN.md's package table: units does no I/O,
// systemd knows no model, runtime never talks D-Bus, nothing imports cmd,
// and the model is standard library only. Each failure names the import
// chain that breaks the rule.
func TestImportArrows(t *testing.T) {
	pkgs := goList(t)
	own := ours(pkgs)
	if len(own) < 10 || pkgs[mod+"/units"] == nil || pkgs[mod+"/systemd"] == nil || pkgs[mod+"/runtime"] == nil || pkgs[mod+"/compose/model"] == nil {
		t.Fatalf("go list found too little of the module: %v", own)
	}
	for _, p := range own {
		switch {
		case under(p, "units"):
			checkNoIO(t, pkgs, p)
		case under(p, "systemd"):
			for _, bad := range []string{"compose", "compose/model", "compose/kube", "units", "reconciler", "autoupdate", "runtime"} {
				if c := chain(pkgs, p, mod+"/"+bad); c != "" {
					t.Errorf("%s imports %s (%s): systemd knows nothing of compose or the model", rel(p), bad, c)
				}
			}
		case under(p, "runtime"):
			// Only berth's own packages count: libcontainer links its
			// systemd cgroup driver, which the runtime does not use.
			for _, q := range own {
				c := chain(pkgs, p, q)
				if c == "" {
					continue
				}
				for _, bad := range []string{"github.com/godbus/dbus/v5", "github.com/coreos/go-systemd/v22/dbus", mod + "/systemd"} {
					if slices.Contains(pkgs[q].Imports, bad) {
						t.Errorf("%s imports %s (%s → %s): runtime never talks D-Bus", rel(p), bad, c, rel(bad))
					}
				}
			}
		case p == mod+"/compose/model":
			for _, q := range sortedKeys(pkgs) {
				if !pkgs[q].Standard && q != p {
					if c := chain(pkgs, p, q); c != "" {
						t.Errorf("compose/model imports %s (%s): the model is standard library only", rel(q), c)
					}
				}
			}
		}
		if !under(p, "cmd") {
			for _, q := range own {
				if under(q, "cmd") {
					if c := chain(pkgs, p, q); c != "" {
						t.Errorf("%s imports %s (%s): nothing imports cmd", rel(p), rel(q), c)
					}
				}
			}
		}
	}
}

// checkNoIO fails for each I/O import of package p and each use of a
// restricted package's function that is not pure; of berth's packages it
// may import only the model, runtime/paths and units itself.
func checkNoIO(t *testing.T, pkgs map[string]*listed, p string) {
	for _, imp := range pkgs[p].Imports {
		switch {
		case slices.Contains(ioPackages, imp):
			t.Errorf("%s imports %s: units does no I/O", rel(p), imp)
		case strings.HasPrefix(imp, mod+"/") && imp != mod+"/compose/model" && imp != mod+"/runtime/paths" && !under(imp, "units"):
			// runtime/paths is the one owner of path names (PIDFile=).
			t.Errorf("%s imports %s: units may import only the model and runtime/paths", rel(p), rel(imp))
		}
	}
	for _, f := range pkgs[p].GoFiles {
		path := filepath.Join(pkgs[p].Dir, f)
		file, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]string{} // local name → restricted import path
		for _, is := range file.Imports {
			ip := strings.Trim(is.Path.Value, `"`)
			if _, ok := pureUses[ip]; ok {
				name := filepath.Base(ip)
				if is.Name != nil {
					name = is.Name.Name
				}
				names[name] = ip
			}
		}
		ast.Inspect(file, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if x, ok := sel.X.(*ast.Ident); ok && names[x.Name] != "" && !slices.Contains(pureUses[names[x.Name]], sel.Sel.Name) {
				t.Errorf("%s/%s uses %s.%s: units does no I/O (pure functions of %s allowed: %s)",
					rel(p), f, x.Name, sel.Sel.Name, names[x.Name], strings.Join(pureUses[names[x.Name]], ", "))
			}
			return true
		})
	}
}

func rel(p string) string { return strings.TrimPrefix(p, mod+"/") }

func sortedKeys(m map[string]*listed) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
