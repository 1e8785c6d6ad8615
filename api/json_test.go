package api

import (
	"bytes"
	"encoding/json"
	"math/big"
	"strconv"
	"strings"
	"testing"
)

// refCanonical is the reference for Canonicalize, built from encoding/json:
// decode with UseNumber, turn each number into float64 unless float64
// changes its decimal value (decided with math/big), and json.Marshal.
func refCanonical(t testing.TB, src []byte) ([]byte, bool) {
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	if _, err := dec.Token(); err == nil {
		return nil, false // more than one value
	}
	var conv func(any) any
	conv = func(x any) any {
		switch x := x.(type) {
		case map[string]any:
			for k, e := range x {
				x[k] = conv(e)
			}
		case []any:
			for i, e := range x {
				x[i] = conv(e)
			}
		case json.Number:
			f, err := strconv.ParseFloat(string(x), 64)
			if err != nil {
				return x
			}
			if mant, _, _ := strings.Cut(strings.ToLower(string(x)), "e"); f == 0 && strings.Trim(mant, "-0.") == "" {
				return f // an exact zero, whatever its exponent (big.Rat refuses exponents beyond int range)
			}
			lit, ok1 := new(big.Rat).SetString(string(x))
			short, ok2 := new(big.Rat).SetString(strconv.FormatFloat(f, 'g', -1, 64))
			if !ok1 || !ok2 || lit.Cmp(short) != 0 {
				return x
			}
			return f
		}
		return x
	}
	out, err := json.Marshal(conv(v))
	if err != nil {
		t.Fatalf("reference marshal of %q: %v", src, err)
	}
	return out, true
}

func TestCanonicalize(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		got, err := Canonicalize(nil, []byte(in))
		if err != nil || string(got) != want {
			t.Fatalf("Canonicalize(%q) = %q, %v; want %q", in, got, err, want)
		}
		ref, ok := refCanonical(t, []byte(in))
		if !ok || string(ref) != want {
			t.Fatalf("reference(%q) = %q; want %q", in, ref, want)
		}
	}
	f(`{"b":1,"a":2.50,"h":"<"}`, `{"a":2.5,"b":1,"h":"\u003c"}`)
	f(` { "b" : [ 1 , 2 ] , "a" : { } } `, `{"a":{},"b":[1,2]}`)
	f(`{"a":1,"a":{"z":1,"y":2}}`, `{"a":{"y":2,"z":1}}`)
	f(`12.0`, `12`)
	f(`-0`, `-0`)
	f(`-0.0`, `-0`)
	f(`1e21`, `1e+21`)
	f(`1e20`, `100000000000000000000`)
	f(`0.0000001`, `1e-7`)
	f(`123456789012345678`, `123456789012345678`)
	f(`9007199254740993`, `9007199254740993`)
	f(`12345678901234567890`, `12345678901234567890`)
	f(`1e400`, `1e400`)
	f("0E10000000000000000000 ", `0`) // found by FuzzCanonicalize: an exact zero, as json.Marshal(float64(0))
	f(`-0.000e99999999999999999999`, `-0`)
	f(`1e-400`, `1e-400`)
	f(`"\ud800"`, `"`+"\ufffd"+`"`)
	f(`"\ud83d\ude00 \u2028 \u0001 \b\f\n\r\t \/ \\ \""`, `"`+"😀"+` \u2028 \u0001 \b\f\n\r\t / \\ \""`)
	f("\"\xff\"", `"`+"\ufffd"+`"`)
	f(`{"é":1,"e":2,"E":3}`, `{"E":3,"e":2,"é":1}`)
	f(`[]`, `[]`)
	f(`true`, `true`)
	for _, bad := range []string{``, ` `, `{`, `[1,]`, `{"a"}`, `{"a":1,}`, `01`, `1.`, `-`, `1e`, `tru`, `nul`, `"a`, "\"\x01\"", `"\x"`, `"\u12"`, `1 2`, `{} x`, `{1:2}`} {
		if got, err := Canonicalize([]byte("keep"), []byte(bad)); err == nil || string(got) != "keep" {
			t.Fatalf("Canonicalize(%q) = %q, %v; want error and dst unchanged", bad, got, err)
		}
	}
	deep := strings.Repeat("[", maxNesting+1) + strings.Repeat("]", maxNesting+1)
	if _, err := Canonicalize(nil, []byte(deep)); err == nil {
		t.Fatal("nesting beyond encoding/json's limit accepted")
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", `"\<>&`, "\u2028\u2029", "\x00\x1f\x7f", "\xff\xfe", "é😀", "a\tb\nc"} {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("appendJSONString(%q) = %s, want %s", s, got, want)
		}
		if got := appendJSONString(nil, []byte(s)); !bytes.Equal(got, want) {
			t.Fatalf("appendJSONString([]byte %q) = %s, want %s", s, got, want)
		}
	}
}

// refCompact is what json.Encoder writes for a RawMessage (without "\n").
func refCompact(src []byte) ([]byte, bool) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(json.RawMessage(src)); err != nil {
		return nil, false
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), true
}

func TestAppendCompact(t *testing.T) {
	for _, s := range []string{`{ "a" : [1, 2] }`, `"<&>\u003c"`, "\"\u2028\"", `null`, ` 1 `, `{"a":"x y"}`, "\"\xff\"", `x`, ``, `[1,]`, `{} {}`} {
		want, wok := refCompact([]byte(s))
		got, ok := appendCompact(nil, []byte(s))
		if ok != wok || !bytes.Equal(got, want) {
			t.Fatalf("appendCompact(%q) = %q %v, want %q %v", s, got, ok, want, wok)
		}
	}
}

var jsonSeeds = []string{
	`{"b":1,"a":2.50,"h":"<"}`, `[1,"a",null,true,false,{"x":[]}]`, `12345678901234567890`,
	`0.1000000000000000055511`, `"\ud83d\ude00\u2028"`, `{"a":1,"a":2}`, `-0.0e-0`, `1E+2`, `{"é":{"b":1,"a":[1.5e300]}}`,
	`[1,]`, `{"a"`, "\"\xff\"", ` `, `"\ud800\udc00\ud800"`,
}

func FuzzCanonicalize(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		if bytes.Contains(src, []byte("e")) || bytes.Contains(src, []byte("E")) {
			// Keep big.Rat affordable: skip huge exponents.
			for _, part := range bytes.FieldsFunc(src, func(r rune) bool { return r == 'e' || r == 'E' }) {
				if part = bytes.TrimSpace(part); len(part) > 0 && len(bytes.TrimLeft(part, "+-0123456789")) == 0 && len(part) > 4 {
					return
				}
			}
		}
		got, err := Canonicalize(nil, src)
		if valid := json.Valid(src); valid != (err == nil) {
			t.Fatalf("Canonicalize(%q): err=%v but json.Valid=%v", src, err, valid)
		}
		if err != nil {
			return
		}
		want, ok := refCanonical(t, src)
		if !ok {
			t.Fatalf("reference rejected valid %q", src)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("Canonicalize(%q) = %q, want %q", src, got, want)
		}
		// Idempotent.
		again, err := Canonicalize(nil, got)
		if err != nil || !bytes.Equal(again, got) {
			t.Fatalf("not idempotent: %q -> %q (%v)", got, again, err)
		}
	})
}

func FuzzAppendCompact(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		want, wok := refCompact(src)
		got, ok := appendCompact(nil, src)
		if ok != wok || !bytes.Equal(got, want) {
			t.Fatalf("appendCompact(%q) = %q %v, want %q %v", src, got, ok, want, wok)
		}
		str := string(src)
		want, _ = json.Marshal(str)
		if got := appendJSONString(nil, str); !bytes.Equal(got, want) {
			t.Fatalf("appendJSONString(%q) = %s, want %s", str, got, want)
		}
	})
}

func TestNestingLimit(t *testing.T) {
	for _, n := range []int{maxNesting, maxNesting + 1} {
		src := []byte(strings.Repeat("[", n) + strings.Repeat("]", n))
		want := json.Valid(src)
		if got := validJSON(src); got != want {
			t.Fatalf("validJSON depth %d = %v, want %v", n, got, want)
		}
		_, err := Canonicalize(nil, src)
		if (err == nil) != want {
			t.Fatalf("Canonicalize depth %d: err %v, json.Valid %v", n, err, want)
		}
	}
}
