package gateway_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/eidgate/eidgate/routing"
)

// servedRoots are the packages whose errors reach the gateway's answers:
// the gateway itself and every service behind it.
var servedRoots = []string{"accounts", "approval", "audit", "cache", "credential", "gateway", "internal/domainerr",
	"ledger", "mapping", "policies", "routing", "store",
	"cmd/eidgate/main.go", "cmd/eidgate/main_wiring.go", "cmd/eidgate/main_credentials.go"}

// constantRoots are read for the constants codes are named by, not for
// codes: provider's own codes answer a provider's caller, not the
// gateway's.
var constantRoots = []string{"provider"}

// notServed are directories under those roots that never answer a caller
// of the gateway: test helpers and the embedded peer.
func notServed(rel string) bool {
	base := filepath.Base(rel)
	return strings.HasSuffix(base, "test") || base == "testdata" || rel == filepath.Join("ledger", "devnet")
}

// codeSource is one parsed file and the constants of its package.
type codeSource struct {
	pkg  string
	file *ast.File
}

// collectErrorCodes reads the source of the packages under root named by
// served (and, for their constants only, by constants) and returns every
// error code they can answer with (code → first position) and the
// positions of codes it cannot resolve to a constant. A root that is not
// there or a file that cannot be read or parsed is an error, not a
// package silently left out. A code is the Code
// of an Error or ErrorDetail literal, the argument of WithCode, or the
// argument a function passes on to one of those (routing.Unavailable,
// failWith, …); every error kind is a code too (an Error without Code
// answers with its kind).
func collectErrorCodes(root string, servedRoots, constantRoots []string) (map[string]string, []string, error) {
	fset := token.NewFileSet()
	var files []codeSource
	consts := map[string]string{} // "pkg.Name" → value
	served := map[string]bool{}
	for _, r := range servedRoots {
		served[r] = true
	}
	for _, r := range append(append([]string{}, servedRoots...), constantRoots...) {
		err := filepath.WalkDir(filepath.Join(root, r), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			if d.IsDir() {
				if rel != r && notServed(rel) {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			f, err := parser.ParseFile(fset, rel, src, 0)
			if err != nil {
				return err
			}
			if served[r] {
				files = append(files, codeSource{pkg: f.Name.Name, file: f})
			}
			for _, decl := range f.Decls {
				gd, ok := decl.(*ast.GenDecl)
				if !ok || gd.Tok != token.CONST {
					continue
				}
				for _, spec := range gd.Specs {
					vs := spec.(*ast.ValueSpec)
					for i, name := range vs.Names {
						if i < len(vs.Values) {
							if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
								consts[f.Name.Name+"."+name.Name], _ = strconv.Unquote(lit.Value)
							}
						}
					}
				}
			}
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
	}

	// resolve turns a code expression into its value; param is the index
	// of the enclosing function's parameter it names, or -1.
	resolve := func(pkg string, e ast.Expr, params map[string]int) (string, int, bool) {
		for {
			call, ok := e.(*ast.CallExpr)
			if !ok || len(call.Args) != 1 {
				break
			}
			if id, ok := call.Fun.(*ast.Ident); ok && id.Name == "string" {
				e = call.Args[0] // string(code)
				continue
			}
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok && (sel.Sel.Name == "Code" || sel.Sel.Name == "Kind") {
				e = call.Args[0] // provider.Code("x")
				continue
			}
			break
		}
		switch x := e.(type) {
		case *ast.BasicLit:
			if v, err := strconv.Unquote(x.Value); err == nil {
				return v, -1, true
			}
		case *ast.Ident:
			if i, ok := params[x.Name]; ok {
				return "", i, true
			}
			if v, ok := consts[pkg+"."+x.Name]; ok {
				return v, -1, true
			}
		case *ast.SelectorExpr:
			if p, ok := x.X.(*ast.Ident); ok {
				if v, ok := consts[p.Name+"."+x.Sel.Name]; ok {
					return v, -1, true
				}
			}
		}
		return "", -1, false
	}

	// passers are the functions that pass a parameter on as a code: name →
	// parameter index. Found again until nothing new turns up, for
	// helpers that call helpers.
	passers := map[string]int{"WithCode": 0}
	codes := map[string]string{}
	var unresolved []string
	for changed := true; changed; {
		changed = false
		codes, unresolved = map[string]string{}, nil
		for _, src := range files {
			for _, decl := range src.file.Decls {
				fn, ok := decl.(*ast.FuncDecl)
				if !ok || fn.Body == nil {
					continue
				}
				params := map[string]int{}
				i := 0
				for _, fld := range fn.Type.Params.List {
					if len(fld.Names) == 0 {
						i++
					}
					for _, n := range fld.Names {
						params[n.Name] = i
						i++
					}
				}
				sink := func(e ast.Expr) {
					if isCodeOf(e) {
						return // the renderer passes an error's own code on
					}
					v, param, ok := resolve(src.pkg, e, params)
					switch {
					case !ok:
						unresolved = append(unresolved, fset.Position(e.Pos()).String())
					case param >= 0:
						if old, seen := passers[fn.Name.Name]; !seen || old != param {
							if !seen {
								changed = true
							}
							passers[fn.Name.Name] = param
						}
					case v != "":
						if _, seen := codes[v]; !seen {
							codes[v] = fset.Position(e.Pos()).String()
						}
					}
				}
				ast.Inspect(fn.Body, func(n ast.Node) bool {
					switch x := n.(type) {
					case *ast.CompositeLit:
						if isErrorType(x.Type) {
							for _, el := range x.Elts {
								if kv, ok := el.(*ast.KeyValueExpr); ok {
									if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Code" {
										sink(kv.Value)
									}
								}
							}
						}
					case *ast.CallExpr:
						name := ""
						switch f := x.Fun.(type) {
						case *ast.Ident:
							name = f.Name
						case *ast.SelectorExpr:
							name = f.Sel.Name
						}
						if i, ok := passers[name]; ok && i < len(x.Args) {
							sink(x.Args[i])
						}
					}
					return true
				})
			}
		}
	}
	for _, k := range allKinds() {
		if _, ok := codes[k]; !ok {
			codes[k] = "error kind"
		}
	}
	sort.Strings(unresolved)
	return codes, unresolved, nil
}

func isErrorType(e ast.Expr) bool {
	if u, ok := e.(*ast.UnaryExpr); ok {
		e = u.X
	}
	switch t := e.(type) {
	case *ast.Ident:
		return t.Name == "Error" || t.Name == "ErrorDetail"
	case *ast.SelectorExpr:
		return t.Sel.Name == "Error" || t.Sel.Name == "ErrorDetail"
	}
	return false
}

func isCodeOf(e ast.Expr) bool {
	call, ok := e.(*ast.CallExpr)
	if !ok {
		return false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	return ok && sel.Sel.Name == "CodeOf"
}

// allKinds are the error kinds, each answered as a code by an error
// without one.
func allKinds() []string {
	var out []string
	for _, k := range []routing.Kind{routing.KindInvalid, routing.KindUnauthenticated, routing.KindForbidden,
		routing.KindConsentRequired, routing.KindNotFound, routing.KindConflict, routing.KindRateLimited,
		routing.KindUnavailable, routing.KindBadGateway, routing.KindInternal} {
		out = append(out, string(k))
	}
	return out
}
