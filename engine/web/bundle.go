package web

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"regexp"
	"slices"
	"strings"
)

// The room page's start-up scripts go to the browser as two files: the
// server joins the modules its entry (js/room.js) imports statically, and
// then those the room (js/room/app.js) imports statically but the entry's,
// each into one ES module, when it starts, served under the versioned names
// of the entry and of the room. Over HTTP/1.1 (six connections) twenty
// small modules took two to four rounds of requests, each a trip through
// the loaded machine's network stack; two files fetched side by side are
// one round. The entry stays small (7 KB), so it runs and opens the
// websocket while the page is still being parsed. The page's import map
// sends every other URL of those modules to the file that holds it, so
// what loads later (dialogs, the library, streams) and the tests' imports
// share its one instance of each module.
//
// Each module becomes a function scope that returns its exports; its
// imports become constants read from the modules before it (dependencies
// come first, as in a module graph's evaluation order), or from the other
// file's exports. The joiner reads the import and export forms this code
// uses, at the start of a line, and refuses anything else (a default
// export, an exported let or var, whose later changes a copy would miss, a
// namespace import, a dynamic import of a computed name, import.meta, a
// cycle), so a module it cannot join stops the server's start and its
// tests.

// earlySocket is the room page's one inline script, in its head: it opens
// the room's websocket before any script file is fetched, keeping what
// arrives until room/net.js takes the socket over (takeOver). The page
// hands it over on the meta element that names the socket's path, not on
// window. Under load the entry ran 100-150 ms after it had arrived, behind
// the end of the parse and the first paint (docs/room-ui.md); this way the
// hello is on its way meanwhile. It keeps when each frame arrived (times),
// as the hello's server time is read against that (clock.js start), not
// against when the room could handle it.
const earlySocket = `(() => {
  const m = document.querySelector('meta[name="room-ws"]');
  if (!m || !window.WebSocket) return;
  const ws = new WebSocket((location.protocol === "https:" ? "wss:" : "ws:") + "//" + location.host + m.content);
  const early = { ws, frames: [], times: [], closed: null };
  ws.onmessage = (e) => {
    early.frames.push(e.data);
    early.times.push(performance.timeOrigin + performance.now());
  };
  ws.onclose = (e) => { early.closed = e; };
  m.early = early;
})();`

// roomEntry and roomApp are the roots of the room page's start-up graph.
const roomEntry, roomApp = "js/room.js", "js/room/app.js"

var (
	importLine  = regexp.MustCompile(`(?ms)^import\s+(?:([^"';]*?)\s+from\s+)?["']([^"']+)["'];?[ \t]*\n?`)
	exportDecl  = regexp.MustCompile(`(?m)^export\s+(?:async\s+)?(function\*?|class|const)\s+([A-Za-z_$][\w$]*)`)
	exportList  = regexp.MustCompile(`(?m)^export\s*\{([^}]*)\};?[ \t]*\n?`)
	exportOther = regexp.MustCompile(`(?m)^export\b`)
	dynImport   = regexp.MustCompile(`\bimport\s*\(\s*(["'])(\.{1,2}/[^"']+)["']\s*\)`)
	anyDynamic  = regexp.MustCompile(`\bimport\s*\(`)
	importMeta  = regexp.MustCompile(`\bimport\s*\.\s*meta\b`)
)

// jsModule is one parsed start-up module.
type jsModule struct {
	path    string            // under static/, e.g. js/room/app.js
	body    string            // the source without its imports and export keywords
	imports []jsImport        // its static imports, in order
	exports map[string]string // exported name -> local name
}

type jsImport struct {
	from  string      // module path under static/
	names [][2]string // {imported, local}; empty for a bare import
}

// jsBundle is modules joined into one, served under the name of the
// module it starts from.
type jsBundle struct {
	root    string   // the module it starts from, under static/
	js      []byte   // the joined module
	modules []string // the paths it holds, in evaluation order
}

// roomBundles are the room page's start-up modules, joined: the entry with
// the little it needs to open the websocket, and the room.
type roomBundles struct {
	entry, app jsBundle
	importMap  string // the page's import map (JSON)
}

// joinRoomModules joins the start-up graph; static is the URL prefix of the
// versioned static files (ending in "/").
func joinRoomModules(fsys fs.FS, static string) (roomBundles, error) {
	mods := map[string]*jsModule{}
	entry, err := joinModules(fsys, mods, roomEntry, nil)
	if err != nil {
		return roomBundles{}, err
	}
	outside := map[string]string{}
	for _, p := range entry.modules {
		outside[p] = roomEntry
	}
	app, err := joinModules(fsys, mods, roomApp, outside)
	if err != nil {
		return roomBundles{}, err
	}
	imports := map[string]string{}
	for _, b := range []jsBundle{entry, app} {
		for _, p := range b.modules {
			if p != b.root {
				imports[static+p] = static + b.root
			}
		}
	}
	im, err := json.Marshal(map[string]any{"imports": imports})
	if err != nil {
		return roomBundles{}, err
	}
	return roomBundles{entry: entry, app: app, importMap: string(im)}, nil
}

// joinModules joins root and what it imports statically, whole graph, but
// for the modules outside lists (module -> the bundle that holds it), which
// it imports from that bundle. mods caches parsed modules.
func joinModules(fsys fs.FS, mods map[string]*jsModule, root string, outside map[string]string) (jsBundle, error) {
	order, err := moduleOrder(fsys, mods, root, outside)
	if err != nil {
		return jsBundle{}, err
	}
	var b strings.Builder
	b.WriteString("// The room page's start-up modules, joined by the server (engine/web/bundle.go).\n")
	vars := map[string]string{}
	for _, other := range slices.Sorted(maps.Values(outside)) {
		if _, done := vars[other]; !done {
			vars[other] = fmt.Sprintf("$wpx%d", len(vars))
			fmt.Fprintf(&b, "import * as %s from %q;\n", vars[other], relativeTo(path.Dir(root), other))
		}
	}
	for p, other := range outside {
		vars[p] = vars[other]
	}
	for i, p := range order {
		vars[p] = fmt.Sprintf("$wp%d", i)
	}
	for _, p := range order {
		m := mods[p]
		fmt.Fprintf(&b, "\n// ---- %s\nconst %s = (() => {\n", p, vars[p])
		for _, im := range m.imports {
			if len(im.names) == 0 {
				continue
			}
			var parts []string
			for _, n := range im.names {
				if n[0] == n[1] {
					parts = append(parts, n[0])
				} else {
					parts = append(parts, n[0]+": "+n[1])
				}
			}
			fmt.Fprintf(&b, "const { %s } = %s;\n", strings.Join(parts, ", "), vars[im.from])
		}
		b.WriteString(rewriteDynamic(m.body, p, path.Dir(root)))
		fmt.Fprintf(&b, "\nreturn { %s };\n})();\n", joinExports(m.exports))
	}

	exports, err := bundleExports(mods, order, vars)
	if err != nil {
		return jsBundle{}, err
	}
	b.WriteString("\n")
	b.WriteString(exports)
	return jsBundle{root: root, js: []byte(b.String()), modules: order}, nil
}

// moduleOrder reads root's static graph into mods, but for the modules
// outside lists, and returns it in evaluation order (what a module imports
// comes before it).
func moduleOrder(fsys fs.FS, mods map[string]*jsModule, root string, outside map[string]string) ([]string, error) {
	var order []string
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(p string, via string) error
	visit = func(p, via string) error {
		switch {
		case state[p] == 2:
			return nil
		case state[p] == 1:
			return fmt.Errorf("web: start-up modules: import cycle through %s (from %s)", p, via)
		}
		m := mods[p]
		if m == nil {
			var err error
			if m, err = parseModule(fsys, p); err != nil {
				return err
			}
			mods[p] = m
		}
		if outside[p] != "" { // read for its exports, joined elsewhere
			state[p] = 2
			return nil
		}
		state[p] = 1
		for _, im := range m.imports {
			if err := visit(im.from, p); err != nil {
				return err
			}
		}
		state[p] = 2
		order = append(order, p)
		return nil
	}
	if err := visit(root, "the page"); err != nil {
		return nil, err
	}
	for _, p := range order {
		for _, im := range mods[p].imports {
			for _, n := range im.names {
				if _, ok := mods[im.from].exports[n[0]]; !ok {
					return nil, fmt.Errorf("web: start-up module %s imports %s, which %s does not export", p, n[0], im.from)
				}
			}
		}
	}
	return order, nil
}

// bundleExports writes the bundle's exports: what each of its modules
// exports, so that it can stand for any of them. A name two modules export
// must be one binding (a module passing on another's export).
func bundleExports(mods map[string]*jsModule, order []string, vars map[string]string) (string, error) {
	origin := map[string]string{} // exported name -> "module#local" it comes from
	var exports strings.Builder
	for _, p := range order {
		m := mods[p]
		var names []string
		for _, name := range sortedKeys(m.exports) {
			o := sourceOf(mods, p, m.exports[name])
			if prev, ok := origin[name]; ok {
				if prev != o {
					return "", fmt.Errorf("web: start-up modules: %q is exported by two modules (%s, %s)", name, prev, o)
				}
				continue
			}
			origin[name] = o
			names = append(names, name)
		}
		if len(names) > 0 {
			fmt.Fprintf(&exports, "export const { %s } = %s;\n", strings.Join(names, ", "), vars[p])
		}
	}
	return exports.String(), nil
}

// sourceOf follows an export back to the module that declares it:
// "module#local".
func sourceOf(mods map[string]*jsModule, p, local string) string {
	for _, im := range mods[p].imports {
		for _, n := range im.names {
			if n[1] == local {
				if from, ok := mods[im.from]; ok {
					if l, ok := from.exports[n[0]]; ok {
						return sourceOf(mods, im.from, l)
					}
				}
			}
		}
	}
	return p + "#" + local
}

func parseModule(fsys fs.FS, p string) (*jsModule, error) {
	src, err := fs.ReadFile(fsys, p)
	if err != nil {
		return nil, fmt.Errorf("web: start-up module %s: %w", p, err)
	}
	text := string(src)
	m := &jsModule{path: p, exports: map[string]string{}}
	if importMeta.MatchString(text) {
		return nil, fmt.Errorf("web: start-up module %s uses import.meta, which joining would change", p)
	}
	if len(anyDynamic.FindAllString(text, -1)) != len(dynImport.FindAllString(text, -1)) {
		return nil, fmt.Errorf("web: start-up module %s imports a computed name, which joining would resolve elsewhere", p)
	}
	var bad error
	text = importLine.ReplaceAllStringFunc(text, func(line string) string {
		g := importLine.FindStringSubmatch(line)
		im := jsImport{from: path.Join(path.Dir(p), g[2])}
		if !strings.HasPrefix(g[2], "./") && !strings.HasPrefix(g[2], "../") {
			bad = fmt.Errorf("web: start-up module %s imports %q: only relative imports are joined", p, g[2])
		}
		if clause := strings.TrimSpace(g[1]); clause != "" {
			if !strings.HasPrefix(clause, "{") || !strings.HasSuffix(clause, "}") {
				bad = fmt.Errorf("web: start-up module %s: import %q: only named imports are joined", p, clause)
				return ""
			}
			for _, spec := range splitSpecs(clause[1 : len(clause)-1]) {
				im.names = append(im.names, spec)
			}
		}
		m.imports = append(m.imports, im)
		return ""
	})
	if bad != nil {
		return nil, bad
	}
	text = exportList.ReplaceAllStringFunc(text, func(line string) string {
		g := exportList.FindStringSubmatch(line)
		for _, spec := range splitSpecs(g[1]) {
			m.exports[spec[1]] = spec[0] // local "as" exported
		}
		return ""
	})
	text = exportDecl.ReplaceAllStringFunc(text, func(decl string) string {
		g := exportDecl.FindStringSubmatch(decl)
		m.exports[g[2]] = g[2]
		return strings.TrimSpace(strings.TrimPrefix(decl, "export"))
	})
	if loc := exportOther.FindStringIndex(text); loc != nil {
		end := min(len(text), loc[0]+60)
		return nil, fmt.Errorf("web: start-up module %s: an export the joiner does not read: %q", p, text[loc[0]:end])
	}
	m.body = text
	return m, nil
}

// splitSpecs reads "a, b as c" into {a, a}, {b, c}.
func splitSpecs(list string) [][2]string {
	var out [][2]string
	for _, s := range strings.Split(list, ",") {
		f := strings.Fields(s)
		switch {
		case len(f) == 1:
			out = append(out, [2]string{f[0], f[0]})
		case len(f) == 3 && f[1] == "as":
			out = append(out, [2]string{f[0], f[2]})
		}
	}
	return out
}

// rewriteDynamic makes the relative names of a module's dynamic imports
// relative to dir, where the joined module is served.
func rewriteDynamic(body, p, dir string) string {
	return dynImport.ReplaceAllStringFunc(body, func(call string) string {
		g := dynImport.FindStringSubmatch(call)
		target := path.Join(path.Dir(p), g[2])
		rel := relativeTo(dir, target)
		return "import(" + g[1] + rel + g[1] + ")"
	})
}

// relativeTo is target as a relative module name from directory dir.
func relativeTo(dir, target string) string {
	d := strings.Split(dir, "/")
	t := strings.Split(target, "/")
	i := 0
	for i < len(d) && i < len(t)-1 && d[i] == t[i] {
		i++
	}
	up := len(d) - i
	rel := strings.Join(t[i:], "/")
	if up == 0 {
		return "./" + rel
	}
	return strings.Repeat("../", up) + rel
}

func joinExports(exports map[string]string) string {
	var parts []string
	for _, name := range sortedKeys(exports) {
		if local := exports[name]; local == name {
			parts = append(parts, name)
		} else {
			parts = append(parts, name+": "+local)
		}
	}
	return strings.Join(parts, ", ")
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// scriptHash is the Content-Security-Policy source of an inline script.
func scriptHash(text string) string {
	sum := sha256.Sum256([]byte(text))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}
