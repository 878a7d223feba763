package proto

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/constant"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite embed/static/js/protocol.js from the catalogue")

// jsModule is the generated module, relative to this package.
var jsModule = filepath.Join("..", "..", "..", "embed", "static", "js", "protocol.js")

// jsGroup is one exported object of the module: the constants of a Go file
// whose names start with prefix (or whose type is typ).
type jsGroup struct {
	name, doc string
	file      string // Go source, relative to this package
	prefix    string // Go names that start with it ("" with typ)
	typ       string // or: constants of this type
}

var jsGroups = []jsGroup{
	{name: "T", doc: "Message types (the type field).", file: "proto.go", typ: "Type"},
	{name: "CODE", doc: "Error codes of the error message.", file: "proto.go", prefix: "Code"},
	{name: "REASON", doc: "Reasons of the closed message.", file: "proto.go", prefix: "Reason"},
	{name: "PRESENCE", doc: "Presence of a member.", file: "proto.go", prefix: "Presence"},
	{name: "CLOSE", doc: "Websocket close codes; 4000-4004 mean stop, anything else reconnect.", file: "proto.go", prefix: "Close"},
	{name: "RTC_SIGNAL", doc: "WebRTC signal types (the signal's type field in rtc messages).", file: "../../rtc/signal.go", prefix: "Type"},
	{name: "RTC_SOURCE", doc: "WebRTC track sources.", file: "../../rtc/signal.go", prefix: "Source"},
	{name: "RTC_CODE", doc: "Error codes of a WebRTC error signal.", file: "../../rtc/signal.go", prefix: "Code"},
}

// has reports whether c belongs to the group: a constant of its type, or
// an untyped constant whose name starts with its prefix.
func (g jsGroup) has(c goConst) bool {
	if g.typ != "" {
		return c.typ == g.typ
	}
	return c.typ == "" && strings.HasPrefix(c.name, g.prefix)
}

// goConst is one constant as the source declares it.
type goConst struct {
	name, comment string
	typ           string
	value         constant.Value
}

// constsOf reads the constants declared in a Go file, in order, with their
// values (the file's constants may not depend on imported packages).
func constsOf(t *testing.T, file string) []goConst {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var out []goConst
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, sp := range gd.Specs {
			vs := sp.(*ast.ValueSpec)
			typ := "" // the catalogue spells out every value and type
			if id, ok := vs.Type.(*ast.Ident); ok {
				typ = id.Name
			}
			for i, n := range vs.Names {
				if !n.IsExported() || i >= len(vs.Values) {
					continue
				}
				v := evalConst(t, vs.Values[i], out)
				c := goConst{name: n.Name, typ: typ, value: v}
				if vs.Comment != nil {
					c.comment = strings.TrimSpace(vs.Comment.Text())
				}
				out = append(out, c)
			}
		}
	}
	return out
}

// evalConst evaluates a constant expression of literals, operators and
// constants declared before it.
func evalConst(t *testing.T, e ast.Expr, known []goConst) constant.Value {
	t.Helper()
	info := &types.Info{Types: map[ast.Expr]types.TypeAndValue{}}
	pkg := types.NewPackage("p", "p")
	for _, k := range known {
		pkg.Scope().Insert(types.NewConst(token.NoPos, pkg, k.name, types.Typ[types.UntypedString], k.value))
	}
	if err := types.CheckExpr(token.NewFileSet(), pkg, token.NoPos, e, info); err != nil {
		t.Fatalf("evaluating %s: %v", types.ExprString(e), err)
	}
	return info.Types[e].Value
}

// renderJS writes the module.
func renderJS(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("// The room protocol's catalogue, generated from engine/room/proto and engine/rtc/signal.go\n")
	b.WriteString("// by `go generate ./engine/room/proto`: do not edit. See docs/protocol.md.\n\n")
	consts := map[string][]goConst{}
	for _, g := range jsGroups {
		if consts[g.file] == nil {
			consts[g.file] = constsOf(t, g.file)
		}
	}
	for _, c := range consts["proto.go"] {
		if c.name == "Version" {
			fmt.Fprintf(&b, "/** Protocol version, sent as v in hello. */\nexport const VERSION = %s;\n\n", c.value)
		}
	}
	for _, c := range consts["proto.go"] {
		if strings.HasPrefix(c.name, "Max") {
			fmt.Fprintf(&b, "export const %s = %s;\n", jsName(c.name), c.value)
		}
	}
	b.WriteString("\n")
	for _, g := range jsGroups {
		fmt.Fprintf(&b, "/** %s */\nexport const %s = Object.freeze({\n", g.doc, g.name)
		n := 0
		for _, c := range consts[g.file] {
			if !g.has(c) {
				continue
			}
			key := jsName(strings.TrimPrefix(c.name, g.prefix))
			val := c.value.ExactString()
			if c.value.Kind() == constant.String {
				key = strings.ToUpper(constant.StringVal(c.value))
			}
			fmt.Fprintf(&b, "  %s: %s,", key, val)
			if c.comment != "" {
				fmt.Fprintf(&b, " // %s", c.comment)
			}
			b.WriteString("\n")
			n++
		}
		if n == 0 {
			t.Fatalf("group %s is empty", g.name)
		}
		b.WriteString("});\n\n")
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// jsName turns a Go name into UPPER_SNAKE_CASE: MaxRTCMessageSize ->
// MAX_RTC_MESSAGE_SIZE.
func jsName(s string) string {
	var out []rune
	rs := []rune(s)
	for i, r := range rs {
		upper := r >= 'A' && r <= 'Z'
		if i > 0 && upper {
			prevLower := rs[i-1] >= 'a' && rs[i-1] <= 'z'
			nextLower := i+1 < len(rs) && rs[i+1] >= 'a' && rs[i+1] <= 'z'
			prevUpper := rs[i-1] >= 'A' && rs[i-1] <= 'Z'
			if prevLower || (prevUpper && nextLower) {
				out = append(out, '_')
			}
		}
		out = append(out, []rune(strings.ToUpper(string(r)))...)
	}
	return string(out)
}

// TestJSModule fails when embed/static/js/protocol.js differs from what the
// catalogue generates: run go generate ./engine/room/proto (or this test
// with -update) after changing the catalogue.
func TestJSModule(t *testing.T) {
	want := renderJS(t)
	if *update {
		if err := os.WriteFile(jsModule, want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(jsModule)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is out of date with the catalogue: run go generate ./engine/room/proto", jsModule)
	}
}

// TestCatalogueValuesUnique: no two message types, and no two codes of
// one group, share a value (a JS key would silently collapse them).
func TestCatalogueValuesUnique(t *testing.T) {
	for _, g := range jsGroups {
		seen := map[string]string{}
		for _, c := range constsOf(t, g.file) {
			if !g.has(c) {
				continue
			}
			v := c.value.ExactString()
			if other, ok := seen[v]; ok {
				t.Errorf("%s: %s and %s are both %s", g.name, other, c.name, v)
			}
			seen[v] = c.name
		}
	}
}

func TestJSName(t *testing.T) {
	for in, want := range map[string]string{"MaxRTCMessageSize": "MAX_RTC_MESSAGE_SIZE", "QueueAdd": "QUEUE_ADD", "RTC": "RTC", "Kicked": "KICKED", "GoingAway": "GOING_AWAY"} {
		if got := jsName(in); got != want {
			t.Errorf("jsName(%q) = %q, want %q", in, got, want)
		}
	}
}
