package proto

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
)

func TestDecodeClientMessage(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want ClientMessage
		err  bool
	}{
		{name: "chat", in: `{"type":"chat","text":"hello","ref":"r1"}`, want: ClientMessage{Type: "chat", Text: "hello", Ref: "r1"}},
		{name: "spaces", in: " {\n \"type\" : \"typing\" , \"on\" : true } ", want: ClientMessage{Type: "typing", On: true}},
		{name: "escapes", in: `{"type":"chat","text":"a\"b\\c\/d\n\t\u00e9\ud83d\ude00"}`, want: ClientMessage{Type: "chat", Text: "a\"b\\c/d\n\té😀"}},
		{name: "lone surrogate refused", in: `{"type":"chat","text":"x\ud83dy"}`, err: true},
		{name: "utf8", in: `{"type":"chat","text":"héllo 👋"}`, want: ClientMessage{Type: "chat", Text: "héllo 👋"}},
		{name: "invalid utf8 refused", in: "{\"type\":\"chat\",\"text\":\"a\xffb\"}", err: true},
		{name: "invalid utf8 in a key refused", in: "{\"type\":\"chat\",\"k\xff\":1}", err: true},
		{name: "ping", in: `{"type":"ping","t":1700000000123.5}`, want: ClientMessage{Type: "ping", T: 1700000000123.5}},
		{name: "react", in: `{"type":"react","seq":42,"emoji":"👍"}`, want: ClientMessage{Type: "react", Seq: 42, Emoji: "👍"}},
		{name: "unknown fields skipped", in: `{"x":{"a":[1,2,{"b":null}],"c":"\"}"},"type":"presence","state":"away","n":-1.5e3,"f":false}`, want: ClientMessage{Type: "presence", State: "away"}},
		{name: "null fields", in: `{"type":"chat","text":null}`, want: ClientMessage{Type: "chat"}},
		{name: "rare type keeps the message", in: `{"type":"signal","sdp":{"a":1}}`, want: ClientMessage{Type: "signal", Raw: []byte(`{"type":"signal","sdp":{"a":1}}`)}},
		{name: "not an object", in: `["chat"]`, err: true},
		{name: "no type", in: `{"text":"x"}`, err: true},
		{name: "type not string", in: `{"type":1}`, err: true},
		{name: "text not string", in: `{"type":"chat","text":5}`, err: true},
		{name: "negative seq", in: `{"type":"react","seq":-1}`, err: true},
		{name: "fraction seq", in: `{"type":"react","seq":1.5}`, err: true},
		{name: "huge t", in: `{"type":"ping","t":1e999}`, err: true},
		{name: "trailing garbage", in: `{"type":"chat"} x`, err: true},
		{name: "trailing comma", in: `{"type":"chat",}`, err: true},
		{name: "unterminated", in: `{"type":"chat","text":"abc`, err: true},
		{name: "control char", in: "{\"type\":\"chat\",\"text\":\"a\x01\"}", err: true},
		{name: "bad escape", in: `{"type":"chat","text":"\q"}`, err: true},
		{name: "deep nesting", in: `{"type":"chat","x":` + deep(100) + `}`, err: true},
		{name: "empty", in: ``, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m ClientMessage
			err := Decode([]byte(tt.in), &m)
			if tt.err {
				if err == nil {
					t.Fatalf("decoded %q as %+v, want an error", tt.in, m)
				}
				return
			}
			if err != nil {
				t.Fatalf("decoding %q: %v", tt.in, err)
			}
			if !reflect.DeepEqual(m, tt.want) {
				t.Fatalf("decoded %q as %+v, want %+v", tt.in, m, tt.want)
			}
		})
	}
}

func deep(n int) string {
	s := ""
	for range n {
		s += "["
	}
	for range n {
		s += "]"
	}
	return s
}

func TestDecodeCommonTypesDoNotAllocateType(t *testing.T) {
	data := []byte(`{"type":"typing","on":true}`)
	var m ClientMessage
	allocs := testing.AllocsPerRun(100, func() {
		m = ClientMessage{}
		if err := Decode(data, &m); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("decoding a typing message allocated %v times, want 0", allocs)
	}
}

// FuzzDecode checks that the decoder never panics and that
// whatever it accepts, encoding/json reads the same way.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"type":"chat","text":"hello","ref":"r1"}`,
		`{"type":"typing","on":true}`,
		`{"type":"ping","t":1700000000123.5}`,
		`{"type":"react","seq":42,"emoji":"👍"}`,
		`{"type":"video","url":"https://youtu.be/dQw4w9WgXcQ?t=42"}`,
		`{"type":"presence","state":"away"}`,
		`{"type":"chat","text":"a\"b\\c\/d\n\t\u00e9\ud83d\ude00"}`,
		`{"x":{"a":[1,2,{"b":null}]},"type":"signal"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var m ClientMessage
		if err := Decode(data, &m); err != nil {
			return
		}
		var std map[string]any
		if err := json.Unmarshal(data, &std); err != nil {
			t.Fatalf("accepted %q which encoding/json rejects: %v", data, err)
		}
		str := func(key, got string) {
			v, ok := std[key]
			if !ok || v == nil {
				if got != "" {
					t.Fatalf("%q: %s = %q, encoding/json has none", data, key, got)
				}
				return
			}
			if s, _ := v.(string); s != got {
				t.Fatalf("%q: %s = %q, encoding/json has %q", data, key, got, v)
			}
		}
		str("type", string(m.Type))
		str("text", m.Text)
		str("ref", m.Ref)
		str("url", m.URL)
		str("emoji", m.Emoji)
		str("state", m.State)
		if v, ok := std["seq"].(float64); ok && math.Abs(v-float64(m.Seq)) > math.Max(1, v*1e-15) {
			t.Fatalf("%q: seq = %d, encoding/json has %v", data, m.Seq, v)
		}
		if v, ok := std["t"].(float64); ok && v != m.T {
			t.Fatalf("%q: t = %v, encoding/json has %v", data, m.T, v)
		}
		if v, ok := std["on"].(bool); ok && v != m.On {
			t.Fatalf("%q: on = %v, encoding/json has %v", data, m.On, v)
		}
	})
}
