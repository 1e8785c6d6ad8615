package api

import (
	"bytes"
	"errors"
	"slices"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// This file holds the reflection-free JSON helpers of the hot paths:
//
//   - appendJSONString: Go's encoding/json string encoder (HTML escaping on);
//   - Canonicalize: the bytes json.Marshal produces for the value
//     json.Unmarshal decodes into an `any` (whitespace removed, object keys
//     sorted, last duplicate wins, strings re-escaped, numbers through
//     float64), except that a number literal float64 cannot represent
//     exactly (or that overflows float64) is kept as sent;
//   - appendCompact: what json.Encoder emits for a json.RawMessage
//     (whitespace removed, <>& and U+2028/U+2029 escaped), with validation.
//
// Each is checked against encoding/json by the tests and fuzzers in
// json_test.go.

const hexDigits = "0123456789abcdef"

// htmlSafe[b] reports whether ASCII byte b needs no escaping with HTML
// escaping on (Go's htmlSafeSet).
var htmlSafe = func() (t [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\' && b != '<' && b != '>' && b != '&'
	}
	return t
}()

// appendJSONString appends s as a JSON string exactly like encoding/json
// (HTML escaping on; invalid UTF-8 becomes \ufffd).
func appendJSONString[S ~string | ~[]byte](dst []byte, s S) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if htmlSafe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := decodeRune(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

func decodeRune[S ~string | ~[]byte](s S) (rune, int) {
	switch v := any(s).(type) {
	case string:
		return utf8.DecodeRuneInString(v)
	case []byte:
		return utf8.DecodeRune(v)
	}
	return utf8.DecodeRuneInString(string(s))
}

// maxNesting is encoding/json's maximum nesting depth.
const maxNesting = 10000

// errJSON is returned by the parsers for any malformed input; callers that
// need Go's exact error text re-run encoding/json on the slow path.
var errJSON = errors.New("invalid JSON")

// member is one object member during canonicalisation: its decoded key
// (arena[k0:k1]) and its canonical value (out[v0:v1]).
type member struct {
	k0, k1 int
	v0, v1 int
}

// canonicalizer holds reusable scratch space.
type canonicalizer struct {
	in    []byte
	pos   int
	depth int
	arena []byte   // decoded object keys
	mem   []member // stack of object members
	tmp   []byte   // scratch for reordering members
	dig   [2][]byte
	// exact keeps number literals as written (json.Decoder.UseNumber then
	// json.Marshal of the json.Number).
	exact bool
}

var canonPool = sync.Pool{New: func() any { return new(canonicalizer) }}

// Canonicalize appends to dst the canonical form of the single JSON value
// in src (surrounding whitespace allowed, nothing else). On malformed input
// (including an empty src) it returns errJSON and dst unchanged.
func Canonicalize(dst, src []byte) ([]byte, error) {
	c := canonPool.Get().(*canonicalizer)
	c.in, c.pos, c.depth = src, 0, 0
	c.arena, c.mem = c.arena[:0], c.mem[:0]
	n := len(dst)
	out, err := c.value(dst)
	if err == nil {
		c.skipWS()
		if c.pos != len(c.in) {
			err = errJSON
		}
	}
	c.in = nil
	canonPool.Put(c)
	if err != nil {
		return dst[:n], err
	}
	return out, nil
}

// CanonicalizeFirst appends what json.NewDecoder(src) with UseNumber
// decodes as its first value, re-encoded by json.Marshal: the canonical
// form with number literals kept as written. Like the Decoder it ignores
// whatever follows the first value (its complaint about it would come on
// a second Decode). On malformed input it returns errJSON and dst
// unchanged.
func CanonicalizeFirst(dst, src []byte) ([]byte, error) {
	c := canonPool.Get().(*canonicalizer)
	c.in, c.pos, c.depth, c.exact = src, 0, 0, true
	c.arena, c.mem = c.arena[:0], c.mem[:0]
	n := len(dst)
	out, err := c.value(dst)
	c.in, c.exact = nil, false
	canonPool.Put(c)
	if err != nil {
		return dst[:n], err
	}
	return out, nil
}

// skipSpace returns the index of the first non-whitespace byte of in at or
// after pos.
func skipSpace(in []byte, pos int) int {
	for pos < len(in) {
		switch in[pos] {
		case ' ', '\t', '\n', '\r':
			pos++
		default:
			return pos
		}
	}
	return pos
}

func (c *canonicalizer) skipWS() { c.pos = skipSpace(c.in, c.pos) }

func (c *canonicalizer) value(dst []byte) ([]byte, error) {
	c.skipWS()
	if c.pos >= len(c.in) {
		return dst, errJSON
	}
	switch b := c.in[c.pos]; {
	case b == '{':
		return c.object(dst)
	case b == '[':
		return c.array(dst)
	case b == '"':
		start := len(c.arena)
		var err error
		c.arena, err = c.unquote(c.arena)
		if err != nil {
			return dst, err
		}
		dst = appendJSONString(dst, c.arena[start:])
		c.arena = c.arena[:start]
		return dst, nil
	case b == 't':
		return c.literal(dst, "true")
	case b == 'f':
		return c.literal(dst, "false")
	case b == 'n':
		return c.literal(dst, "null")
	case b == '-' || (b >= '0' && b <= '9'):
		return c.number(dst)
	}
	return dst, errJSON
}

func (c *canonicalizer) literal(dst []byte, lit string) ([]byte, error) {
	if len(c.in)-c.pos < len(lit) || string(c.in[c.pos:c.pos+len(lit)]) != lit {
		return dst, errJSON
	}
	c.pos += len(lit)
	return append(dst, lit...), nil
}

func (c *canonicalizer) array(dst []byte) ([]byte, error) {
	c.depth++
	if c.depth > maxNesting {
		return dst, errJSON
	}
	c.pos++ // [
	dst = append(dst, '[')
	c.skipWS()
	if c.pos < len(c.in) && c.in[c.pos] == ']' {
		c.pos++
		c.depth--
		return append(dst, ']'), nil
	}
	for {
		var err error
		if dst, err = c.value(dst); err != nil {
			return dst, err
		}
		c.skipWS()
		if c.pos >= len(c.in) {
			return dst, errJSON
		}
		switch c.in[c.pos] {
		case ',':
			c.pos++
			dst = append(dst, ',')
		case ']':
			c.pos++
			c.depth--
			return append(dst, ']'), nil
		default:
			return dst, errJSON
		}
	}
}

func (c *canonicalizer) object(dst []byte) ([]byte, error) {
	c.depth++
	if c.depth > maxNesting {
		return dst, errJSON
	}
	c.pos++ // {
	objStart := len(dst)
	dst = append(dst, '{')
	base := len(c.mem)
	arenaBase := len(c.arena)
	c.skipWS()
	if c.pos < len(c.in) && c.in[c.pos] == '}' {
		c.pos++
		c.depth--
		return append(dst, '}'), nil
	}
	for {
		c.skipWS()
		if c.pos >= len(c.in) || c.in[c.pos] != '"' {
			return dst, errJSON
		}
		k0 := len(c.arena)
		var err error
		if c.arena, err = c.unquote(c.arena); err != nil {
			return dst, err
		}
		k1 := len(c.arena)
		c.skipWS()
		if c.pos >= len(c.in) || c.in[c.pos] != ':' {
			return dst, errJSON
		}
		c.pos++
		v0 := len(dst)
		if dst, err = c.value(dst); err != nil {
			return dst, err
		}
		c.mem = append(c.mem, member{k0: k0, k1: k1, v0: v0, v1: len(dst)})
		c.skipWS()
		if c.pos >= len(c.in) {
			return dst, errJSON
		}
		if c.in[c.pos] == ',' {
			c.pos++
			continue
		}
		if c.in[c.pos] != '}' {
			return dst, errJSON
		}
		c.pos++
		break
	}
	c.depth--
	ms := c.mem[base:]
	// Sort by decoded key; stable so that among duplicates the last one is
	// last, then drop all but the last of each run of equal keys.
	slices.SortStableFunc(ms, func(a, b member) int {
		return bytes.Compare(c.arena[a.k0:a.k1], c.arena[b.k0:b.k1])
	})
	c.tmp = append(c.tmp[:0], dst[objStart+1:]...)
	valBase := objStart + 1
	dst = dst[:objStart+1]
	first := true
	for i, m := range ms {
		if i+1 < len(ms) && bytes.Equal(c.arena[m.k0:m.k1], c.arena[ms[i+1].k0:ms[i+1].k1]) {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendJSONString(dst, c.arena[m.k0:m.k1])
		dst = append(dst, ':')
		dst = append(dst, c.tmp[m.v0-valBase:m.v1-valBase]...)
	}
	c.mem = c.mem[:base]
	c.arena = c.arena[:arenaBase]
	return append(dst, '}'), nil
}

// unquote decodes the JSON string at c.pos into dst like encoding/json
// (invalid UTF-8 and lone surrogates become U+FFFD).
func (c *canonicalizer) unquote(dst []byte) ([]byte, error) {
	in := c.in
	i := c.pos + 1
	for {
		start := i
		for i < len(in) && in[i] != '"' && in[i] != '\\' && in[i] >= 0x20 && in[i] < utf8.RuneSelf {
			i++
		}
		dst = append(dst, in[start:i]...)
		if i >= len(in) {
			return dst, errJSON
		}
		b := in[i]
		switch {
		case b == '"':
			c.pos = i + 1
			return dst, nil
		case b < 0x20:
			return dst, errJSON
		case b == '\\':
			if i+1 >= len(in) {
				return dst, errJSON
			}
			switch e := in[i+1]; e {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				dst = append(dst, unescaped[e])
				i += 2
			case 'u':
				r, ok := hex4(in, i+2)
				if !ok {
					return dst, errJSON
				}
				i += 6
				if utf16.IsSurrogate(r) {
					if r2, ok2 := surrogateTail(in, i); ok2 {
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							dst = utf8.AppendRune(dst, dec)
							i += 6
							break
						}
					}
					r = utf8.RuneError
				}
				dst = utf8.AppendRune(dst, r)
			default:
				return dst, errJSON
			}
		default: // non-ASCII
			r, size := utf8.DecodeRune(in[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, "\uFFFD"...)
			} else {
				dst = append(dst, in[i:i+size]...)
			}
			i += size
		}
	}
}

// unescaped maps the byte after a backslash of a two-byte JSON escape to
// the byte it stands for.
var unescaped = [256]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

func surrogateTail(in []byte, i int) (rune, bool) {
	if i+1 < len(in) && in[i] == '\\' && in[i+1] == 'u' {
		return hex4(in, i+2)
	}
	return 0, false
}

func hex4(in []byte, i int) (rune, bool) {
	if i+4 > len(in) {
		return 0, false
	}
	var r rune
	for _, b := range in[i : i+4] {
		switch {
		case b >= '0' && b <= '9':
			b -= '0'
		case b >= 'a' && b <= 'f':
			b = b - 'a' + 10
		case b >= 'A' && b <= 'F':
			b = b - 'A' + 10
		default:
			return 0, false
		}
		r = r*16 + rune(b)
	}
	return r, true
}

// scanNumber returns the end of the JSON number starting at i, or -1.
func scanNumber(in []byte, i int) int {
	if i < len(in) && in[i] == '-' {
		i++
	}
	if i >= len(in) {
		return -1
	}
	switch {
	case in[i] == '0':
		i++
	case in[i] >= '1' && in[i] <= '9':
		for i < len(in) && in[i] >= '0' && in[i] <= '9' {
			i++
		}
	default:
		return -1
	}
	if i < len(in) && in[i] == '.' {
		i++
		d := i
		for i < len(in) && in[i] >= '0' && in[i] <= '9' {
			i++
		}
		if i == d {
			return -1
		}
	}
	if i < len(in) && (in[i] == 'e' || in[i] == 'E') {
		i++
		if i < len(in) && (in[i] == '+' || in[i] == '-') {
			i++
		}
		d := i
		for i < len(in) && in[i] >= '0' && in[i] <= '9' {
			i++
		}
		if i == d {
			return -1
		}
	}
	return i
}

func (c *canonicalizer) number(dst []byte) ([]byte, error) {
	end := scanNumber(c.in, c.pos)
	if end < 0 {
		return dst, errJSON
	}
	lit := c.in[c.pos:end]
	c.pos = end
	if c.exact {
		return append(dst, lit...), nil
	}
	return appendNumber(dst, lit, &c.dig), nil
}

// appendNumber appends the float64 formatting of the number literal lit
// like json.Marshal(float64), or lit itself when the float64 value differs
// from the literal's decimal value (or overflows).
func appendNumber(dst, lit []byte, dig *[2][]byte) []byte {
	f, err := strconv.ParseFloat(unsafeString(lit), 64)
	if err != nil {
		return append(dst, lit...)
	}
	n := len(dst)
	dst = appendFloat(dst, f)
	if !decimalEqual(lit, dst[n:], dig) {
		return append(dst[:n], lit...)
	}
	return dst
}

// appendFloat formats f like encoding/json's float64 encoder.
func appendFloat(dst []byte, f float64) []byte {
	abs := f
	if abs < 0 {
		abs = -abs
	}
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

// decimalEqual reports whether two JSON number literals denote the same
// decimal value (zeros of either sign are equal).
func decimalEqual(a, b []byte, dig *[2][]byte) bool {
	na, da, ea := normDecimal(a, dig[0][:0])
	nb, db, eb := normDecimal(b, dig[1][:0])
	dig[0], dig[1] = da, db
	if len(da) == 0 && len(db) == 0 {
		return true
	}
	return na == nb && ea == eb && bytes.Equal(da, db)
}

// normDecimal returns sign, significant digits (no leading/trailing zeros)
// and exponent e such that the value is 0.digits × 10^e.
func normDecimal(s []byte, dig []byte) (neg bool, digits []byte, exp int) {
	i := 0
	if i < len(s) && s[i] == '-' {
		neg = true
		i++
	}
	intDigits := 0
	seenNonZero := false
	leadingFracZeros := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		if s[i] != '0' || seenNonZero {
			seenNonZero = true
			dig = append(dig, s[i])
			intDigits++
		}
	}
	if i < len(s) && s[i] == '.' {
		i++
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			if s[i] != '0' || seenNonZero {
				seenNonZero = true
				dig = append(dig, s[i])
			} else {
				leadingFracZeros++
			}
		}
	}
	e := 0
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		eneg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			eneg = s[i] == '-'
			i++
		}
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			if e < 1e8 {
				e = e*10 + int(s[i]-'0')
			}
		}
		if eneg {
			e = -e
		}
	}
	for len(dig) > 0 && dig[len(dig)-1] == '0' {
		dig = dig[:len(dig)-1]
	}
	if intDigits > 0 {
		exp = intDigits + e
	} else {
		exp = -leadingFracZeros + e
	}
	return neg, dig, exp
}

// appendCompact appends src with insignificant whitespace removed and <, >,
// &, U+2028, U+2029 escaped, like json.Encoder does for a RawMessage. It
// reports false (and returns dst unchanged) when src is not exactly one
// valid JSON value.
func appendCompact(dst, src []byte) ([]byte, bool) {
	if !validJSON(src) {
		return dst, false
	}
	inString := false
	start := 0
	for i := 0; i < len(src); i++ {
		b := src[i]
		if inString {
			switch b {
			case '\\':
				i++
			case '"':
				inString = false
			case '<', '>', '&':
				dst = append(dst, src[start:i]...)
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
				start = i + 1
			case 0xE2:
				if i+2 < len(src) && src[i+1] == 0x80 && src[i+2]&^1 == 0xA8 {
					dst = append(dst, src[start:i]...)
					dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[src[i+2]&0xF])
					start = i + 3
					i += 2
				}
			}
			continue
		}
		switch b {
		case ' ', '\t', '\n', '\r':
			dst = append(dst, src[start:i]...)
			start = i + 1
		case '"':
			inString = true
		}
	}
	return append(dst, src[start:]...), true
}

// validJSON reports whether src is exactly one JSON value (with optional
// surrounding whitespace), like json.Valid.
func validJSON(src []byte) bool {
	v := validator{in: src}
	if !v.value(0) {
		return false
	}
	v.skipWS()
	return v.pos == len(src)
}

type validator struct {
	in  []byte
	pos int
}

func (v *validator) skipWS() { v.pos = skipSpace(v.in, v.pos) }

func (v *validator) value(depth int) bool {
	v.skipWS()
	if v.pos >= len(v.in) {
		return false
	}
	switch b := v.in[v.pos]; {
	case b == '{' || b == '[':
		if depth+1 > maxNesting {
			return false
		}
		closer := byte('}')
		if b == '[' {
			closer = ']'
		}
		v.pos++
		v.skipWS()
		if v.pos < len(v.in) && v.in[v.pos] == closer {
			v.pos++
			return true
		}
		for {
			if b == '{' {
				v.skipWS()
				if v.pos >= len(v.in) || v.in[v.pos] != '"' || !v.str() {
					return false
				}
				v.skipWS()
				if v.pos >= len(v.in) || v.in[v.pos] != ':' {
					return false
				}
				v.pos++
			}
			if !v.value(depth + 1) {
				return false
			}
			v.skipWS()
			if v.pos >= len(v.in) {
				return false
			}
			if v.in[v.pos] == ',' {
				v.pos++
				continue
			}
			if v.in[v.pos] != closer {
				return false
			}
			v.pos++
			return true
		}
	case b == '"':
		return v.str()
	case b == 't':
		return v.lit("true")
	case b == 'f':
		return v.lit("false")
	case b == 'n':
		return v.lit("null")
	default:
		end := scanNumber(v.in, v.pos)
		if end < 0 {
			return false
		}
		v.pos = end
		return true
	}
}

func (v *validator) lit(s string) bool {
	if len(v.in)-v.pos < len(s) || string(v.in[v.pos:v.pos+len(s)]) != s {
		return false
	}
	v.pos += len(s)
	return true
}

func (v *validator) str() bool {
	i := v.pos + 1
	for i < len(v.in) {
		switch b := v.in[i]; {
		case b == '"':
			v.pos = i + 1
			return true
		case b < 0x20:
			return false
		case b == '\\':
			if i+1 >= len(v.in) {
				return false
			}
			switch v.in[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if _, ok := hex4(v.in, i+2); !ok {
					return false
				}
				i += 6
			default:
				return false
			}
		default:
			i++
		}
	}
	return false
}

// unsafeString views b as a string without copying; the string must not
// outlive b or be retained.
func unsafeString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}
