package quantity

import "testing"

func TestParse(t *testing.T) {
	f := func(in string, want int64) {
		t.Helper()
		got, err := Parse(in)
		if err != nil {
			t.Fatalf("Parse(%q): unexpected error %v", in, err)
		}
		if got != want {
			t.Fatalf("Parse(%q) = %d, want %d", in, got, want)
		}
	}
	f("4Mi", 4<<20)
	f("4Ki", 4<<10)
	f("16Mi", 16<<20)
	f("1Gi", 1<<30)
	f("4194304", 4194304)
	f("0", 0)
	f("-1", -1)
	f("+5", 5)
	f("1.5Ki", 1536)
	f("2k", 2000)
	f("3M", 3000000)
	f("2e3", 2000)
	f("1E2", 100)
	f("0.5Ki", 512)

	bad := func(in string) {
		t.Helper()
		if v, err := Parse(in); err == nil {
			t.Fatalf("Parse(%q) = %d, want an error", in, v)
		}
	}
	bad("")
	bad("abc")
	bad("4MB")
	bad("4 Mi")
	bad("1.2.3")
	bad("0.5")
	bad("1m")
	bad("Mi")
	bad(".")
}
