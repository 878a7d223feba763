package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"watchparty/engine/apptest"
)

// The layers of the import graph (docs/architecture.md). The domain is
// every package under engine/ and config/ except these: they sit on top of
// it and are the only ones that may know the web server, the app or the
// HTTP stack.
var (
	// wiring builds the services (app) or serves them over HTTP (web);
	// apptest starts the app for tests.
	wiring = []string{"watchparty/engine/app", "watchparty/engine/web", "watchparty/engine/apptest"}
	// transports may use fasthttp: the room's websocket endpoint.
	transports = []string{"watchparty/engine/room/ws"}
	// httpStack is what only the wiring and the transports may import.
	httpStack = []string{"github.com/valyala/fasthttp", "github.com/gofiber/", "github.com/fasthttp/"}
)

type listedPackage struct {
	ImportPath string
	Deps       []string
}

// packages lists the module's packages under engine/ and config/ with
// their dependencies (go list -deps, without tests).
func packages(t *testing.T) map[string][]string {
	t.Helper()
	cmd := exec.Command(apptest.GoTool(t), "list", "-json=ImportPath,Deps", "./engine/...", "./config/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	pkgs := map[string][]string{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs[p.ImportPath] = p.Deps
	}
	return pkgs
}

func matchesAny(pkg string, prefixes []string) bool {
	for _, p := range prefixes {
		if pkg == p || strings.HasSuffix(p, "/") && strings.HasPrefix(pkg, p) || strings.HasPrefix(pkg, p+"/") {
			return true
		}
	}
	return false
}

// violations lists, per package, the dependencies it must not have: no
// domain package reaches the wiring (web, app), and nothing but the wiring
// and the transports reaches the HTTP stack.
func violations(pkgs map[string][]string) map[string][]string {
	bad := map[string][]string{}
	for pkg, deps := range pkgs {
		if matchesAny(pkg, wiring) {
			continue
		}
		for _, d := range deps {
			switch {
			case matchesAny(d, wiring):
				bad[pkg] = append(bad[pkg], d)
			case matchesAny(d, httpStack) && !matchesAny(pkg, transports):
				bad[pkg] = append(bad[pkg], d)
			}
		}
	}
	return bad
}

// TestImportLayers: no domain package imports engine/web or engine/app,
// directly or through another package, and none but the websocket
// transport imports fasthttp or fiber.
func TestImportLayers(t *testing.T) {
	pkgs := packages(t)
	for _, must := range []string{"watchparty/engine/room", "watchparty/engine/web", "watchparty/engine/room/ws", "watchparty/engine/account"} {
		if _, ok := pkgs[must]; !ok {
			t.Fatalf("go list did not list %s", must)
		}
	}
	for pkg, deps := range violations(pkgs) {
		t.Errorf("%s must not depend on %s", pkg, strings.Join(deps, ", "))
	}
}

// TestImportLayersCatchAnArrowUp: the check sees what the web server
// imports, so a domain package importing it would be reported.
func TestImportLayersCatchAnArrowUp(t *testing.T) {
	pkgs := packages(t)
	web := pkgs["watchparty/engine/web"]
	bad := violations(map[string][]string{
		"watchparty/engine/room":    {"watchparty/engine/web"},
		"watchparty/engine/room/ws": {"github.com/fasthttp/websocket"},
		"watchparty/engine/frames":  web,
	})
	if _, ok := bad["watchparty/engine/room"]; !ok {
		t.Error("room importing web is not reported")
	}
	if _, ok := bad["watchparty/engine/room/ws"]; ok {
		t.Error("the websocket transport importing fasthttp is reported")
	}
	if !matchesAny("github.com/valyala/fasthttp", httpStack) || len(bad["watchparty/engine/frames"]) == 0 {
		t.Errorf("a package with the web server's dependencies is not reported: %v", bad["watchparty/engine/frames"])
	}
}

// storeNamers are where the store's concrete types may be named: the store
// itself and the wiring that opens it. Besides them, only the domains'
// Badger implementations of their repositories (files named badger*.go)
// name *store.Store or *store.Tx, and only those and the web server
// (which tells a full disk apart) import the store at all.
var (
	storeNamers    = []string{"watchparty/engine/store", "watchparty/engine/app"}
	storeImporters = []string{"watchparty/engine/store", "watchparty/engine/app", "watchparty/engine/web"}
)

// storeUse is how one non-test file under engine/ uses the store.
type storeUse struct {
	imports bool
	names   int // times it names store.Store or store.Tx
}

// storeUses returns, per non-test file under engine/ that imports
// engine/store, how it uses it.
func storeUses(t *testing.T) map[string]storeUse {
	t.Helper()
	uses := map[string]storeUse{}
	fset := token.NewFileSet()
	err := filepath.WalkDir("engine", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		name := ""
		for _, im := range f.Imports {
			if im.Path.Value == `"watchparty/engine/store"` {
				name = "store"
				if im.Name != nil {
					name = im.Name.Name
				}
			}
		}
		if name == "" {
			return nil
		}
		u := storeUse{imports: true}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if x, ok := sel.X.(*ast.Ident); ok && x.Name == name && (sel.Sel.Name == "Store" || sel.Sel.Name == "Tx") {
				u.names++
			}
			return true
		})
		uses[filepath.ToSlash(path)] = u
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return uses
}

// storeViolations lists what files may not do with the store: name its
// concrete types outside storeNamers and badger*.go, or import it outside
// storeImporters and badger*.go.
func storeViolations(uses map[string]storeUse) []string {
	var bad []string
	for file, u := range uses {
		pkg := "watchparty/" + pathDir(file)
		if strings.HasPrefix(pathBase(file), "badger") {
			continue
		}
		if u.names > 0 && !matchesAny(pkg, storeNamers) {
			bad = append(bad, fmt.Sprintf("%s names *store.Store or *store.Tx %d times: take the domain's repository interface", file, u.names))
		} else if u.imports && !matchesAny(pkg, storeImporters) {
			bad = append(bad, file+" imports engine/store: keep the store behind the domain's repository (badger*.go)")
		}
	}
	sort.Strings(bad)
	return bad
}

func pathDir(p string) string  { return p[:max(strings.LastIndexByte(p, '/'), 0)] }
func pathBase(p string) string { return p[strings.LastIndexByte(p, '/')+1:] }

// TestStoreBehindRepositories: domain packages keep their records through
// repository interfaces of their own (account.Repo, room.Repo ...); only
// the wiring and the Badger implementations name *store.Store or *store.Tx.
func TestStoreBehindRepositories(t *testing.T) {
	uses := storeUses(t)
	for _, must := range []string{"engine/account/badger.go", "engine/room/badger.go", "engine/app/app.go"} {
		if !uses[must].imports {
			t.Fatalf("%s is not seen importing the store", must)
		}
	}
	for _, v := range storeViolations(uses) {
		t.Error(v)
	}
}

// TestStoreBehindRepositoriesCatchesAUse: the check reports a domain file
// naming the store's types or importing it, and leaves the wiring and the
// Badger implementations alone.
func TestStoreBehindRepositoriesCatchesAUse(t *testing.T) {
	bad := storeViolations(map[string]storeUse{
		"engine/room/actor.go":     {imports: true, names: 2},
		"engine/media/resume.go":   {imports: true},
		"engine/room/badger.go":    {imports: true, names: 20},
		"engine/app/app.go":        {imports: true, names: 5},
		"engine/web/server.go":     {imports: true},
		"engine/web/media_more.go": {imports: true, names: 1},
	})
	want := []string{"engine/media/resume.go imports", "engine/room/actor.go names", "engine/web/media_more.go names"}
	if len(bad) != len(want) {
		t.Fatalf("reported %q, want %d reports", bad, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(bad[i], w) {
			t.Errorf("report %d = %q, want it to start %q", i, bad[i], w)
		}
	}
}
