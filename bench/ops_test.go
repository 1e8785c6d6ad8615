package bench

import (
	"strings"
	"testing"
)

func TestParseMix(t *testing.T) {
	m, err := ParseMix("get:80, save:20")
	if err != nil {
		t.Fatal(err)
	}
	f := func(u float64, want Op) {
		t.Helper()
		if got := m.Pick(u); got != want {
			t.Errorf("Pick(%v) = %v, want %v", u, got, want)
		}
	}
	f(0, OpGet)
	f(0.7999, OpGet)
	f(0.8, OpSave)
	f(0.9999, OpSave)
	one, _ := ParseMix("bulk")
	if one.Pick(0.5) != OpBulk || len(one.Ops()) != 1 {
		t.Fatal("single-op mix")
	}
	for _, bad := range []string{"", "fetch", "get:0", "get:-1", "get:x", ","} {
		if _, err := ParseMix(bad); err == nil {
			t.Errorf("ParseMix(%q) accepted", bad)
		}
	}
	for op := Op(0); op < numOps; op++ {
		if p, err := ParseOp(strings.ToUpper(op.String())); err != nil || p != op {
			t.Errorf("ParseOp(%v) = %v, %v", op, p, err)
		}
	}
}

func TestPayloadValues(t *testing.T) {
	p := NewPayload(100, 1)
	a, b := p.Value(0), p.Value(1)
	if len(a) != 100 || len(b) != 100 || string(a) == string(b) {
		t.Fatalf("values %q %q", a, b)
	}
	v := appendJSONValue(nil, 123, a)
	if !jsonValid(v) || !strings.HasPrefix(string(v), `{"g":"g23","p":"`) {
		t.Fatalf("value %s", v)
	}
}
