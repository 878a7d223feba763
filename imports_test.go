package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os/exec"
	"path/filepath"
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
// itself, the wiring that opens it, and the domains' Badger
// implementations of their repositories (files named badger*.go).
var storeNamers = []string{"engine/store", "engine/app"}

// notYetBehindRepos are domain files that still name the store's concrete
// types; the list only shrinks.
var notYetBehindRepos = map[string]bool{
	"engine/room/actor.go":   true,
	"engine/room/forget.go":  true,
	"engine/room/guests.go":  true,
	"engine/room/persist.go": true,
	"engine/room/queue.go":   true,
	"engine/room/service.go": true,
	"engine/room/sync.go":    true,
}

// concreteStoreUses returns, per file under engine/, how many times it
// names *store.Store or *store.Tx, leaving out tests, the storeNamers and
// badger*.go files.
func concreteStoreUses(t *testing.T) map[string]int {
	t.Helper()
	uses := map[string]int{}
	fset := token.NewFileSet()
	err := filepath.WalkDir("engine", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") ||
			strings.HasPrefix(d.Name(), "badger") || matchesAny(filepath.ToSlash(filepath.Dir(path)), storeNamers) {
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
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if x, ok := sel.X.(*ast.Ident); ok && x.Name == name && (sel.Sel.Name == "Store" || sel.Sel.Name == "Tx") {
				uses[filepath.ToSlash(path)]++
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return uses
}

// TestStoreBehindRepositories: domain packages keep their records through
// repository interfaces of their own (account.Repo, room.Repo ...); only
// the wiring and the Badger implementations name *store.Store or *store.Tx.
func TestStoreBehindRepositories(t *testing.T) {
	uses := concreteStoreUses(t)
	for file, n := range uses {
		if !notYetBehindRepos[file] {
			t.Errorf("%s names *store.Store or *store.Tx %d times: take the domain's repository interface", file, n)
		}
	}
	for file := range notYetBehindRepos {
		if uses[file] == 0 {
			t.Errorf("%s no longer names the store's types: take it off notYetBehindRepos", file)
		}
	}
	if len(uses) < len(notYetBehindRepos) {
		t.Errorf("%d files use the store's types, %d listed", len(uses), len(notYetBehindRepos))
	}
}
