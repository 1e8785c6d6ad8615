package shard

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

var (
	rewrite = flag.Bool("rewrite", false, "rewrite testdata/routing.golden")
	long    = flag.Bool("long", false, "run long variants")
)

// TestIndexSpread: keys spread evenly over the shards (within 10%).
func TestIndexSpread(t *testing.T) {
	keys := 20000
	if *long {
		keys = 1000000
	}
	for _, n := range []int{3, 4, 8} {
		counts := make([]int, n)
		for i := 0; i < keys; i++ {
			counts[Index([]byte(fmt.Sprintf("app||key-%d", i)), n)]++
		}
		want := keys / n
		for s, c := range counts {
			if c < want*9/10 || c > want*11/10 {
				t.Fatalf("n=%d: shard %d has %d of %d keys", n, s, c, keys)
			}
		}
	}
}

// goldenKeys are the keys whose routing is frozen.
func goldenKeys() []string {
	keys := []string{"", "a", "b", "key", "myapp||order-1", "app||k", "\x00", "\xff\xff"}
	for i := 0; i < 40; i++ {
		keys = append(keys, fmt.Sprintf("k%d", i))
	}
	return keys
}

func TestRoutingGolden(t *testing.T) {
	ns := []int{1, 2, 3, 4, 8, 16}
	var sb strings.Builder
	for _, k := range goldenKeys() {
		fmt.Fprintf(&sb, "%q", k)
		for _, n := range ns {
			fmt.Fprintf(&sb, " %d", Index([]byte(k), n))
		}
		sb.WriteByte('\n')
	}
	const path = "testdata/routing.golden"
	if *rewrite {
		if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != sb.String() {
		t.Fatalf("routing changed (keys would move between shards of existing stores):\n got:\n%s\nwant:\n%s", sb.String(), want)
	}
	// The file itself must parse and cover every n.
	sc := bufio.NewScanner(strings.NewReader(string(want)))
	lines := 0
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 1+len(ns) {
			t.Fatalf("bad golden line %q", sc.Text())
		}
		for j, s := range f[1:] {
			v, err := strconv.Atoi(s)
			if err != nil || v < 0 || v >= ns[j] {
				t.Fatalf("bad golden shard %q for n=%d", s, ns[j])
			}
		}
		lines++
	}
	if lines != len(goldenKeys()) {
		t.Fatalf("golden has %d lines, want %d", lines, len(goldenKeys()))
	}
}

func TestIndexAllocs(t *testing.T) {
	k := []byte("some-key-of-moderate-length")
	a := testing.AllocsPerRun(1000, func() { _ = Index(k, 8) })
	if a != 0 {
		t.Fatalf("Index allocates %v", a)
	}
}

func TestManifest(t *testing.T) {
	fs := vfs.NewMem()
	s, err := Open("st", 3, Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Shards) != 3 {
		t.Fatalf("got %d shards", len(s.Shards))
	}
	pb := s.Shards[1].DB.NewBatch()
	SetApplied(pb, 42)
	if err := s.Shards[1].DB.Apply(pb, pebble.NoSync); err != nil {
		t.Fatal(err)
	}
	// DisableWAL: unflushed memtables are lost at Close (kv replays its WAL).
	if err := s.Shards[1].DB.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopen with 0 = whatever exists.
	s, err = Open("st", 0, Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Shards) != 3 || s.Shards[1].Applied != 42 || s.Shards[0].Applied != 0 {
		t.Fatalf("reopen: %d shards, applied %d", len(s.Shards), s.Shards[1].Applied)
	}
	s.Close()
	// A different count is refused with a clear error.
	_, err = Open("st", 4, Options{FS: fs})
	if !errors.Is(err, ErrShardCount) || !strings.Contains(err.Error(), "created with 3 shards, 4 requested") {
		t.Fatalf("want shard count error, got %v", err)
	}
	// Default for a new store.
	s, err = Open("new", 0, Options{FS: fs})
	if err != nil || len(s.Shards) != 4 {
		t.Fatalf("default: %v", err)
	}
	s.Close()
}

func TestManifestGarbage(t *testing.T) {
	fs := vfs.NewMem()
	if err := fs.MkdirAll("st", 0o755); err != nil {
		t.Fatal(err)
	}
	f, _ := fs.Create("st/SHARDS", vfs.WriteCategoryUnspecified)
	f.Write([]byte("hello\n"))
	f.Close()
	if _, err := Open("st", 0, Options{FS: fs}); err == nil || !strings.Contains(err.Error(), "cannot parse shard manifest") {
		t.Fatalf("want parse error, got %v", err)
	}
}

func TestExpiryKey(t *testing.T) {
	f := func(exp int64, seq uint64, key string) {
		t.Helper()
		k := AppendExpiryKey(nil, exp, seq, []byte(key))
		e, s, kk, ok := ParseExpiryKey(k)
		if !ok || e != exp || s != seq || string(kk) != key {
			t.Fatalf("round trip (%d,%d,%q) -> (%d,%d,%q,%v)", exp, seq, key, e, s, kk, ok)
		}
	}
	f(1, 2, "a")
	f(1<<62, 1<<63, "")
	f(0, 0, "\xff")
	if _, _, _, ok := ParseExpiryKey([]byte("x123")); ok {
		t.Fatal("short key accepted")
	}
	// Ordered by time first.
	a := AppendExpiryKey(nil, 5, 100, []byte("z"))
	b := AppendExpiryKey(nil, 6, 1, []byte("a"))
	if string(a) >= string(b) {
		t.Fatal("expiry keys not ordered by time")
	}
}
