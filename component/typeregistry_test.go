package component

import (
	"strings"
	"testing"
)

func TestRegistry(t *testing.T) {
	r := NewRegistry[int]("test thing")
	r.Register("b.Two", 2)
	r.Register("a.one", 1)
	if f, ok := r.Lookup("B.TWO"); !ok || f != 2 {
		t.Fatalf("Lookup is not case-insensitive: %v %v", f, ok)
	}
	if _, ok := r.Lookup("c.three"); ok {
		t.Fatal("Lookup of an unregistered type succeeded")
	}
	if got := strings.Join(r.Types(), ","); got != "a.one,b.two" {
		t.Fatalf("Types = %s", got)
	}
	defer func() {
		if p := recover(); p == nil || p != "BUG: test thing type registered twice: A.ONE" {
			t.Fatalf("duplicate Register: %v", p)
		}
	}()
	r.Register("A.ONE", 3)
}
