package web

import (
	"strings"
	"testing"
	"testing/fstest"
)

// The joiner joins the forms of import and export the room's modules use
// and refuses, naming the module, any form it would join wrongly.
func TestJoinModules(t *testing.T) {
	ok := fstest.MapFS{
		"js/a.js":        {Data: []byte("import { b, c as see } from \"./lib/b.js\";\nimport \"./lib/side.js\";\nexport const a = b + see;\nexport function later() {\n  return import(\"./lib/late.js\");\n}\n")},
		"js/lib/b.js":    {Data: []byte("import {\n  d,\n} from \"./d.js\";\nexport const b = 1;\nconst c = 2;\nexport { c, d };\nexport async function f() {}\nexport class K {}\n")},
		"js/lib/d.js":    {Data: []byte("export const d = 4;\n")},
		"js/lib/side.js": {Data: []byte("document.title = \"x\";\n")},
	}
	b, err := joinModules(ok, map[string]*jsModule{}, "js/a.js", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(b.modules, " "); got != "js/lib/d.js js/lib/b.js js/lib/side.js js/a.js" {
		t.Errorf("order %q: each module must come after what it imports", got)
	}
	js := string(b.js)
	for _, want := range []string{
		"const { b, c: see } = $wp1;",
		"const { d } = $wp0;",
		"return { K, b, c, d, f };",
		"async function f() {}",
		`import("./lib/late.js")`,
		"export const { d } = $wp0;",
		"export const { K, b, c, f } = $wp1;", // d once: b passes on d.js's d
		"export const { a, later } = $wp3;",
	} {
		if !strings.Contains(js, want) {
			t.Errorf("joined module lacks %q:\n%s", want, js)
		}
	}
	if strings.Contains(js, "\nexport function") || strings.Contains(js, "\nimport {") {
		t.Errorf("joined module keeps a module's own import or export:\n%s", js)
	}
	// A module outside the bundle is imported from the bundle that holds it.
	b, err = joinModules(ok, map[string]*jsModule{}, "js/lib/b.js", map[string]string{"js/lib/d.js": "js/a.js"})
	if err != nil {
		t.Fatal(err)
	}
	if js := string(b.js); !strings.Contains(js, `import * as $wpx0 from "../a.js";`) || !strings.Contains(js, "const { d } = $wpx0;") || strings.Contains(js, "// ---- js/lib/d.js") {
		t.Errorf("outside module not imported from its bundle:\n%s", js)
	}

	for _, tc := range []struct{ name, src, want string }{
		{"default export", "export default 1;\n", "an export the joiner does not read"},
		{"namespace import", "import * as x from \"./lib/d.js\";\n", "only named imports"},
		{"bare name", "import { x } from \"lib\";\n", "only relative imports"},
		{"computed import", "const n = \"./x.js\";\nimport(n);\n", "computed name"},
		{"import.meta", "const u = import.meta.url;\n", "import.meta"},
		{"missing name", "import { nope } from \"./lib/d.js\";\n", "does not export"},
		{"let export", "export let x = 1;\n", "an export the joiner does not read"},
		{"destructured export", "export const { a } = {};\n", "an export the joiner does not read"},
		{"cycle", "import { y } from \"./y.js\";\nexport const x = 1;\n", "cycle"},
		{"two exports of one name", "import { d } from \"./lib/d.js\";\nimport { e } from \"./e.js\";\n", "exported by two modules"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{
				"js/x.js":     {Data: []byte(tc.src)},
				"js/y.js":     {Data: []byte("import { x } from \"./x.js\";\nexport const y = x;\n")},
				"js/e.js":     {Data: []byte("export const e = 1;\nexport const d = 2;\n")},
				"js/lib/d.js": {Data: []byte("export const d = 1;\n")},
			}
			_, err := joinModules(fsys, map[string]*jsModule{}, "js/x.js", nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one saying %q", err, tc.want)
			}
		})
	}
}

func TestRelativeTo(t *testing.T) {
	for _, tc := range []struct{ dir, target, want string }{
		{"js", "js/room/app.js", "./room/app.js"},
		{"js/room", "js/stream.js", "../stream.js"},
		{"js/room", "js/room/invite.js", "./invite.js"},
		{"js/room", "js/vendor/hls.mjs", "../vendor/hls.mjs"},
		{"js/room", "js/room.js", "../room.js"},
	} {
		if got := relativeTo(tc.dir, tc.target); got != tc.want {
			t.Errorf("relativeTo(%q, %q) = %q, want %q", tc.dir, tc.target, got, tc.want)
		}
	}
}
