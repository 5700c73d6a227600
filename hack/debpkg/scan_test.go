package debpkg

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// execSite is a call that executes a program whose name is a constant.
type execSite struct {
	Binary string // base name: "nft", "journalctl"
	Pos    string // file:line
}

// execArg says, for a call's function name, which argument is the
// program: os/exec's functions, the e2e sandbox's Command/Exec (ctx, name,
// args...) and mustExec(t, s, name, args...), and the benchmarks' run
// helpers (run(name, args...), p.run(b, name, args...), p.cmd(ctx, name,
// args...)). Only a string literal or constant there counts, so other
// functions of these names do not.
func execArg(call *ast.CallExpr) (int, bool) {
	switch fn := call.Fun.(type) {
	case *ast.SelectorExpr:
		if pkg, ok := fn.X.(*ast.Ident); ok && pkg.Name == "exec" {
			switch fn.Sel.Name {
			case "Command", "LookPath":
				return 0, true
			case "CommandContext":
				return 1, true
			}
			return 0, false
		}
		switch fn.Sel.Name {
		case "Command", "Exec", "CommandContext", "run", "cmd":
			return 1, len(call.Args) >= 2
		}
	case *ast.Ident:
		switch fn.Name {
		case "mustExec":
			return 2, true
		case "run":
			return 0, true
		}
	}
	return 0, false
}

// scanExecs parses every Go file under root (test files too: `make test`
// runs them on the same host) and returns the exec sites whose program is
// a string literal or a string constant of the same package.
func scanExecs(root string) ([]execSite, error) {
	fset := token.NewFileSet()
	files := map[string][]*ast.File{} // by directory
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); p != root && (strings.HasPrefix(n, ".") || n == "testdata" || n == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			return err
		}
		files[filepath.Dir(p)] = append(files[filepath.Dir(p)], f)
		return nil
	})
	if err != nil {
		return nil, err
	}
	var sites []execSite
	for _, fs := range files {
		consts := stringConsts(fs)
		for _, f := range fs {
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				i, ok := execArg(call)
				if !ok || i >= len(call.Args) {
					return true
				}
				if name, ok := constString(call.Args[i], consts); ok && name != "" {
					rel, _ := filepath.Rel(root, fset.Position(call.Pos()).Filename)
					sites = append(sites, execSite{Binary: path.Base(name), Pos: rel + ":" + strconv.Itoa(fset.Position(call.Pos()).Line)})
				}
				return true
			})
		}
	}
	return sites, nil
}

// stringConsts maps the package-level string constants of a package's
// files to their values.
func stringConsts(fs []*ast.File) map[string]string {
	out := map[string]string{}
	for _, f := range fs {
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, s := range gd.Specs {
				vs := s.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if i < len(vs.Values) {
						if v, ok := constString(vs.Values[i], nil); ok {
							out[n.Name] = v
						}
					}
				}
			}
		}
	}
	return out
}

func constString(e ast.Expr, consts map[string]string) (string, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(e.Value)
		return s, err == nil
	case *ast.Ident:
		v, ok := consts[e.Name]
		return v, ok
	}
	return "", false
}
