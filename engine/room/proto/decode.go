package proto

import (
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// ClientMessage is a decoded client message. The fields cover every client
// message type; each type uses a few of them (see docs/protocol.md). A
// transport that does not speak JSON (a Syncplay client) fills one in
// itself: the room checks and handles it the same way.
type ClientMessage struct {
	Type  Type
	Ref   string
	Text  string
	URL   string
	Emoji string
	State string
	Seq   uint64
	T     float64
	On    bool
	// Raw holds the whole message for types outside the common set, which
	// their handler decodes with encoding/json (a copy: the data passed to
	// Decode may be reused).
	Raw []byte
}

var errSyntax = errors.New("malformed message: expected a JSON object")

const maxDepth = 32

// Decode parses one client message without reflection. It accepts any
// JSON object that is valid UTF-8: the known fields must have their type (or
// be null); unknown fields are checked for syntax and skipped, so newer
// clients can add fields. It allocates only the strings it keeps (and a copy
// of the message for types outside the common set, in Raw).
func Decode(data []byte, m *ClientMessage) error {
	if err := decode(data, m); err != nil {
		return err
	}
	if !utf8.Valid(data) {
		return errBadText // in a field the decoder skipped
	}
	if _, ok := common(m.Type); !ok {
		m.Raw = append([]byte(nil), data...)
	}
	return nil
}

// commonTypes are the types Decode decodes whole; the others keep their
// message in Raw, which their handler decodes.
func commonTypes() [6]Type { return [...]Type{Chat, Typing, Ping, Presence, React, Video} }

// common returns the constant of a type in commonTypes (so that a decoded
// type costs no allocation), or false.
func common[T Type | []byte](t T) (Type, bool) {
	for _, c := range commonTypes() {
		if string(c) == string(t) {
			return c, true
		}
	}
	return "", false
}

func decode(data []byte, m *ClientMessage) error {
	d := decoder{b: data}
	d.ws()
	if !d.eat('{') {
		return errSyntax
	}
	err := d.elements('}', func() error {
		key, ok := d.rawKey()
		if !ok || !d.colon() {
			return errSyntax
		}
		return d.field(key, m)
	})
	if err != nil {
		return err
	}
	return d.end(m)
}

// elements reads the elements of an object or array up to its closing
// byte, the opening one already read: elem reads one (a member or a value)
// at d.i.
func (d *decoder) elements(closing byte, elem func() error) error {
	d.ws()
	if d.eat(closing) {
		return nil
	}
	for {
		d.ws()
		if err := elem(); err != nil {
			return err
		}
		d.ws()
		if d.eat(',') {
			continue
		}
		if d.eat(closing) {
			return nil
		}
		return errSyntax
	}
}

// colon reads the colon after a member's name, with the white space around.
func (d *decoder) colon() bool {
	d.ws()
	ok := d.eat(':')
	d.ws()
	return ok
}

type decoder struct {
	b []byte
	i int
	// badText is set when a string is not valid Unicode (invalid UTF-8 or
	// a lone surrogate escape): such messages are refused, not repaired.
	badText bool
}

var errBadText = errors.New("malformed message: text must be valid Unicode (UTF-8)")

func (d *decoder) end(m *ClientMessage) error {
	d.ws()
	if d.i != len(d.b) {
		return errSyntax
	}
	if d.badText {
		return errBadText
	}
	if m.Type == "" {
		return errors.New("malformed message: the type field is missing")
	}
	return nil
}

func (d *decoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *decoder) eat(c byte) bool {
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

func (d *decoder) peek() byte {
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

// rawKey returns the bytes of a key without escapes; keys with escapes are
// returned decoded (they never match a known field unless they spell it).
func (d *decoder) rawKey() ([]byte, bool) {
	if d.peek() != '"' {
		return nil, false
	}
	start := d.i + 1
	for j := start; j < len(d.b); j++ {
		c := d.b[j]
		if c == '"' {
			d.i = j + 1
			return d.b[start:j], true
		}
		if c == '\\' || c < 0x20 || c >= 0x80 {
			s, ok := d.str()
			return []byte(s), ok
		}
	}
	return nil, false
}

func (d *decoder) field(key []byte, m *ClientMessage) error {
	if d.lit("null") {
		return nil
	}
	var dst *string
	switch string(key) {
	case "type":
		s, ok := d.typeName()
		if !ok {
			return errors.New("malformed message: type must be a string")
		}
		m.Type = Type(s)
		return nil
	case "ref":
		dst = &m.Ref
	case "text":
		dst = &m.Text
	case "url":
		dst = &m.URL
	case "emoji":
		dst = &m.Emoji
	case "state":
		dst = &m.State
	case "seq":
		var ok bool
		m.Seq, ok = d.uint()
		return typeError(ok, "seq must be a whole number")
	case "t":
		var ok bool
		m.T, ok = d.float()
		return typeError(ok, "t must be a number")
	case "on":
		var ok bool
		m.On, ok = d.boolean()
		return typeError(ok, "on must be true or false")
	default:
		if !d.skip(0) {
			return errSyntax
		}
		return nil
	}
	if d.peek() != '"' {
		return errors.New("malformed message: " + string(key) + " must be a string")
	}
	s, ok := d.str()
	if !ok {
		return errSyntax
	}
	*dst = s
	return nil
}

// typeError is the error for a field whose value does not have its type
// (nil when ok).
func typeError(ok bool, what string) error {
	if ok {
		return nil
	}
	return errors.New("malformed message: " + what)
}

// typeName decodes the type string, returning constants for the common
// types so that they cost no allocation.
func (d *decoder) typeName() (string, bool) {
	if d.peek() != '"' {
		return "", false
	}
	start := d.i + 1
	for j := start; j < len(d.b) && j-start <= 16; j++ {
		c := d.b[j]
		if c == '\\' || c < 0x20 || c >= 0x80 {
			break
		}
		if c == '"' {
			s, ok := common(d.b[start:j])
			if !ok {
				s = Type(d.b[start:j])
			}
			d.i = j + 1
			return string(s), true
		}
	}
	return d.str()
}

// str decodes a JSON string at d.i. Invalid UTF-8 and lone surrogates set
// d.badText (and become U+FFFD, as in encoding/json).
func (d *decoder) str() (string, bool) {
	if !d.eat('"') {
		return "", false
	}
	start := d.i
	j := start
	for j < len(d.b) {
		c := d.b[j]
		if c == '"' {
			d.i = j + 1
			return string(d.b[start:j]), true
		}
		if c == '\\' || c < 0x20 || c >= 0x80 {
			break
		}
		j++
	}
	// Slow path: escapes, non-ASCII or an error.
	out := make([]byte, 0, j-start+16)
	out = append(out, d.b[start:j]...)
	for j < len(d.b) {
		c := d.b[j]
		switch {
		case c == '"':
			d.i = j + 1
			return string(out), true
		case c < 0x20:
			return "", false
		case c == '\\':
			var ok bool
			if out, j, ok = d.escape(out, j); !ok {
				return "", false
			}
		case c < 0x80:
			out = append(out, c)
			j++
		default:
			r, size := utf8.DecodeRune(d.b[j:])
			if r == utf8.RuneError && size == 1 {
				out = utf8.AppendRune(out, utf8.RuneError)
				d.badText = true
			} else {
				out = append(out, d.b[j:j+size]...)
			}
			j += size
		}
	}
	return "", false
}

// escape decodes the escape sequence whose backslash is at d.b[j],
// appending it to out, and returns the index just past it.
func (d *decoder) escape(out []byte, j int) ([]byte, int, bool) {
	j++
	if j >= len(d.b) {
		return out, j, false
	}
	switch d.b[j] {
	case '"', '\\', '/':
		out = append(out, d.b[j])
	case 'b':
		out = append(out, '\b')
	case 'f':
		out = append(out, '\f')
	case 'n':
		out = append(out, '\n')
	case 'r':
		out = append(out, '\r')
	case 't':
		out = append(out, '\t')
	case 'u':
		r, ok := hex4(d.b, j+1)
		if !ok {
			return out, j, false
		}
		j += 4
		if utf16.IsSurrogate(r) {
			r, j = d.surrogatePair(r, j)
		}
		out = utf8.AppendRune(out, r)
	default:
		return out, j, false
	}
	return out, j + 1, true
}

// surrogatePair completes the surrogate r, whose \uXXXX ends at d.b[j],
// with the \uXXXX that follows; without one it is U+FFFD and sets
// d.badText. It returns the index of the last byte used.
func (d *decoder) surrogatePair(r rune, j int) (rune, int) {
	r2 := rune(-1)
	if j+6 < len(d.b) && d.b[j+1] == '\\' && d.b[j+2] == 'u' {
		if x, ok := hex4(d.b, j+3); ok {
			r2 = x
		}
	}
	if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
		return dec, j + 6
	}
	d.badText = true
	return utf8.RuneError, j
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}

// number returns the bytes of a JSON number at d.i and whether it is an
// integer (no fraction or exponent).
func (d *decoder) number() ([]byte, bool, bool) {
	start := d.i
	j := d.i
	if j < len(d.b) && d.b[j] == '-' {
		j++
	}
	var ok bool
	switch {
	case j < len(d.b) && d.b[j] == '0':
		j++
	case j < len(d.b) && d.b[j] >= '1' && d.b[j] <= '9':
		j, _ = d.digits(j)
	default:
		return nil, false, false
	}
	integer := true
	if j < len(d.b) && d.b[j] == '.' {
		integer = false
		if j, ok = d.digits(j + 1); !ok {
			return nil, false, false
		}
	}
	if j < len(d.b) && (d.b[j] == 'e' || d.b[j] == 'E') {
		integer = false
		j++
		if j < len(d.b) && (d.b[j] == '+' || d.b[j] == '-') {
			j++
		}
		if j, ok = d.digits(j); !ok {
			return nil, false, false
		}
	}
	d.i = j
	return d.b[start:j], integer, true
}

// digits returns where the run of digits from j ends, and whether there
// is at least one.
func (d *decoder) digits(j int) (int, bool) {
	k := j
	for j < len(d.b) && d.b[j] >= '0' && d.b[j] <= '9' {
		j++
	}
	return j, j > k
}

func (d *decoder) uint() (uint64, bool) {
	lit, integer, ok := d.number()
	if !ok || !integer || lit[0] == '-' {
		return 0, false
	}
	n, err := strconv.ParseUint(string(lit), 10, 64)
	return n, err == nil
}

func (d *decoder) boolean() (bool, bool) {
	if d.lit("true") {
		return true, true
	}
	return false, d.lit("false")
}

func (d *decoder) float() (float64, bool) {
	lit, _, ok := d.number()
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(lit), 64)
	return f, err == nil
}

// skip checks and passes over one JSON value.
func (d *decoder) skip(depth int) bool {
	if depth > maxDepth {
		return false
	}
	switch c := d.peek(); {
	case c == '"':
		for j := d.i + 1; j < len(d.b); j++ {
			switch x := d.b[j]; {
			case x == '"':
				d.i = j + 1
				return true
			case x == '\\':
				_, ok := d.str()
				return ok
			case x < 0x20:
				return false
			}
		}
		return false
	case c == '{':
		d.i++
		return d.elements('}', func() error {
			if d.peek() != '"' || !d.skip(depth+1) || !d.colon() || !d.skip(depth+1) {
				return errSyntax
			}
			return nil
		}) == nil
	case c == '[':
		d.i++
		return d.elements(']', func() error {
			if !d.skip(depth + 1) {
				return errSyntax
			}
			return nil
		}) == nil
	case c == 't':
		return d.lit("true")
	case c == 'f':
		return d.lit("false")
	case c == 'n':
		return d.lit("null")
	default:
		// A number must fit a float64, as encoding/json wants it to.
		_, ok := d.float()
		return ok
	}
}

func (d *decoder) lit(s string) bool {
	if len(d.b)-d.i >= len(s) && string(d.b[d.i:d.i+len(s)]) == s {
		d.i += len(s)
		return true
	}
	return false
}
