package imports_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/hashforge/hashforge"

// rule binds packages of the module (pkgs: "miner", or "hasher/..." for
// hasher and every package below it) to what they may import of the
// module. Only non-test files count: a test may bring parts together.
type rule struct {
	pkgs  string
	allow []string // when not nil, all they may import of the module
	deny  []string // what they may not import
	why   string   // the rule in words, as a failure states it
}

var rules = []rule{
	{pkgs: "chain", allow: []string{},
		why: "chain is the bottom layer: it imports no package of the project"},
	{pkgs: "hasher/...", allow: []string{"hasher/...", "kernels"},
		why: "the hasher sees only headers and targets: it and its backends import nothing of the project but kernels"},
	{pkgs: "miner", deny: []string{"mempool"},
		why: "the miner sees the pool through TxSource, declared in miner; a stale parent is told by a method of the error, not a sentinel of either package"},
	{pkgs: "api", deny: []string{"wallet"},
		why: "the API signs through its Signer: the node's key stays with the node"},
	{pkgs: "stratum", allow: []string{"chain", "internal/fanout"},
		why: "Stratum sees headers, coinbases and blocks only: the server reaches the chain and the miner's templates, and the miner reaches the client, through interfaces declared where they are used"},
	{pkgs: "p2p", deny: []string{"mempool"},
		why: "p2p sees the pool through an interface declared in p2p with its own errors"},
}

// noForeignVariables are packages that read no package-level variable of
// another package of the module: what they need comes through methods or
// their Config, so it cannot change under them. Sentinel errors are exempt:
// they are compared with errors.Is, never assigned.
var noForeignVariables = []string{"api"}

func TestImportRules(t *testing.T) {
	g := importGraph(t)
	for _, r := range rules {
		t.Run(r.pkgs, func(t *testing.T) {
			bound := 0
			for _, name := range slices.Sorted(maps.Keys(g)) {
				if !matches(r.pkgs, name) {
					continue
				}
				bound++
				for _, path := range r.violations(g, name) {
					t.Errorf("%s imports %s (%s): breaks the rule %q", name, path[len(path)-1], strings.Join(path, " → "), r.why)
				}
			}
			if bound == 0 {
				t.Errorf("the rule %q binds no package: the module has no %s", r.why, r.pkgs)
			}
		})
	}
}

func TestNoForeignVariables(t *testing.T) {
	for _, name := range noForeignVariables {
		t.Run(name, func(t *testing.T) {
			for _, read := range foreignVariables(t, name) {
				t.Errorf("%s: %s reads the package-level variable %s: breaks the rule %q",
					read.pos, name, read.name, "a package reads no package-level variable of another; it gets values through methods or its Config")
			}
		})
	}
}

// A test helper (a package named like chaintest) reads its files through
// go:embed of its own testdata. A path into testdata, or runtime.Caller to
// find one, reaches into another package's files and fails where the source
// tree is not at hand (a binary built with -trimpath).
func TestHelpersEmbedTheirTestdata(t *testing.T) {
	helpers := 0
	for _, p := range goList(t, module+"/...") {
		if !strings.HasSuffix(p.Name, "test") {
			continue
		}
		helpers++
		fset := token.NewFileSet()
		for _, name := range p.GoFiles {
			f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.BasicLit:
					if s, err := strconv.Unquote(n.Value); err == nil && n.Kind == token.STRING && slices.Contains(strings.Split(filepath.ToSlash(s), "/"), "testdata") {
						t.Errorf("%s: the test helper %s names a testdata path %s: breaks the rule %q", fset.Position(n.Pos()), p.ImportPath, n.Value, "test helpers embed their own testdata")
					}
				case *ast.SelectorExpr:
					if x, ok := n.X.(*ast.Ident); ok && x.Name == "runtime" && n.Sel.Name == "Caller" {
						t.Errorf("%s: the test helper %s finds files by runtime.Caller: breaks the rule %q", fset.Position(n.Pos()), p.ImportPath, "test helpers embed their own testdata")
					}
				}
				return true
			})
		}
	}
	if helpers == 0 {
		t.Error("no test helper package found: the rule checks nothing")
	}
}

// pkg is what go list reports of a package.
type pkg struct {
	ImportPath     string
	Name           string
	Dir            string
	GoFiles        []string
	CgoFiles       []string
	IgnoredGoFiles []string // left out by build constraints: other systems' files
	Export         string   // with -export: the compiled package's export data
}

// goList runs go list -json with args and decodes the packages it prints.
func goList(t *testing.T, args ...string) []pkg {
	t.Helper()
	args = append([]string{"list", "-json=ImportPath,Name,Dir,GoFiles,CgoFiles,IgnoredGoFiles,Export"}, args...)
	cmd := exec.Command("go", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		err := dec.Decode(&p)
		if errors.Is(err, io.EOF) {
			return pkgs
		}
		if err != nil {
			t.Fatalf("go %s: %v", strings.Join(args, " "), err)
		}
		pkgs = append(pkgs, p)
	}
}

// relative names a package of the module as the rules do, "hasher/cpu"; ok
// is false for a package outside the module.
func relative(importPath string) (name string, ok bool) {
	return strings.CutPrefix(importPath, module+"/")
}

// matches reports whether pattern ("miner", "hasher/...") names the package.
func matches(pattern, name string) bool {
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return name == base || strings.HasPrefix(name, base+"/")
	}
	return name == pattern
}

// importGraph maps each package of the module to the packages of the module
// its non-test files import, the files of other systems and architectures
// included: a rule holds on every platform, not only the one testing it.
func importGraph(t *testing.T) map[string][]string {
	g := map[string][]string{}
	watchTree(t)
	for _, p := range goList(t, module+"/...") {
		name, _ := relative(p.ImportPath)
		g[name] = []string{}
		// Each file is parsed here rather than taken from go list's
		// Imports: go test caches a result by the files the test itself
		// opened, and a file read only by the go list child would let a
		// cached pass hide a new forbidden import.
		var imports []string
		for _, file := range slices.Concat(p.GoFiles, p.CgoFiles, p.IgnoredGoFiles) {
			if !strings.HasSuffix(file, "_test.go") {
				imports = append(imports, fileImports(t, filepath.Join(p.Dir, file))...)
			}
		}
		for _, imp := range imports {
			if dep, ok := relative(imp); ok && !slices.Contains(g[name], dep) {
				g[name] = append(g[name], dep)
			}
		}
	}
	return g
}

// watchTree lists every directory of the module so that go test's cache
// knows them: a new file or package is then a reason to run again.
func watchTree(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	root := strings.TrimSpace(string(out))
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		if path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "bin" || d.Name() == "artifacts") {
			return filepath.SkipDir
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func fileImports(t *testing.T, path string) []string {
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, spec := range f.Imports {
		p, err := strconv.Unquote(spec.Path.Value)
		if err != nil {
			t.Fatalf("%s: import %s: %v", path, spec.Path.Value, err)
		}
		out = append(out, p)
	}
	return out
}

func (r rule) forbids(name string) bool {
	if slices.ContainsFunc(r.deny, func(p string) bool { return matches(p, name) }) {
		return true
	}
	return r.allow != nil && !slices.ContainsFunc(r.allow, func(p string) bool { return matches(p, name) })
}

// violations returns the import path from the package to each forbidden
// package it reaches, directly or through packages the rule does not bind
// (each package the rule binds answers for its own imports).
func (r rule) violations(g map[string][]string, from string) [][]string {
	var found [][]string
	via := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, imp := range g[p] {
			if _, seen := via[imp]; seen {
				continue
			}
			via[imp] = p
			switch {
			case r.forbids(imp):
				var path []string
				for q := imp; q != ""; q = via[q] {
					path = append([]string{q}, path...)
				}
				found = append(found, path)
			case !matches(r.pkgs, imp):
				queue = append(queue, imp)
			}
		}
	}
	return found
}

// variableRead is a package-level variable of another package, read at pos.
type variableRead struct {
	pos  token.Position
	name string
}

// foreignVariables type-checks the package against its dependencies' export
// data and returns every package-level variable of another package of the
// module it reads, sentinel errors aside.
func foreignVariables(t *testing.T, name string) []variableRead {
	deps := goList(t, "-export", "-deps", module+"/"+name)
	exports := map[string]string{}
	for _, p := range deps {
		exports[p.ImportPath] = p.Export
	}
	target := deps[len(deps)-1] // -deps lists a package after all it imports
	fset := token.NewFileSet()
	var files []*ast.File
	for _, file := range target.GoFiles {
		f, err := parser.ParseFile(fset, filepath.Join(target.Dir, file), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	conf := types.Config{Importer: importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		if exports[path] == "" {
			return nil, fmt.Errorf("go list gave no export data for %s", path)
		}
		return os.Open(exports[path])
	})}
	info := &types.Info{Uses: map[*ast.Ident]types.Object{}}
	self, err := conf.Check(target.ImportPath, fset, files, info)
	if err != nil {
		t.Fatalf("type-check %s: %v", target.ImportPath, err)
	}
	errorType := types.Universe.Lookup("error").Type().Underlying().(*types.Interface)
	var reads []variableRead
	for id, obj := range info.Uses {
		v, ok := obj.(*types.Var)
		if !ok || v.Pkg() == nil || v.Pkg() == self || v.Pkg().Scope().Lookup(v.Name()) != v {
			continue // not a package-level variable of another package
		}
		if _, inModule := relative(v.Pkg().Path()); inModule && !types.Implements(v.Type(), errorType) {
			reads = append(reads, variableRead{fset.Position(id.Pos()), v.Pkg().Path() + "." + v.Name()})
		}
	}
	slices.SortFunc(reads, func(a, b variableRead) int { return strings.Compare(a.pos.String(), b.pos.String()) })
	return reads
}
