package kv

import (
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func TestSmoke(t *testing.T) {
	fs := vfs.NewMem()
	db, err := Open("db", Options{FS: fs, Shards: 3})
	if err != nil {
		t.Fatal(err)
	}
	var b Batch
	b.Put([]byte("a"), []byte("1"), Cond{Kind: CondNotExists}, 0)
	b.Put([]byte("b"), []byte("2"), Cond{}, 0)
	seq, err := db.Apply(&b)
	if err != nil || seq != 1 {
		t.Fatalf("apply: %d %v", seq, err)
	}
	it, ok, err := db.Get([]byte("a"), nil)
	if err != nil || !ok || string(it.Value) != "1" || it.ETag != 1 {
		t.Fatalf("get: %+v %v %v", it, ok, err)
	}
	b.Reset()
	b.Put([]byte("a"), []byte("x"), Cond{Kind: CondNotExists}, 0)
	_, err = db.Apply(&b)
	if !errors.Is(err, ErrConditionFailed) {
		t.Fatalf("want condition failure, got %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open("db", Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	it, ok, err = db.Get([]byte("b"), nil)
	if err != nil || !ok || string(it.Value) != "2" || it.ETag != 1 {
		t.Fatalf("get after reopen: %+v %v %v", it, ok, err)
	}
	b.Reset()
	b.Delete([]byte("b"), Cond{Kind: CondETag, ETag: 1})
	seq, err = db.Apply(&b)
	if err != nil || seq != 2 {
		t.Fatalf("apply: %d %v", seq, err)
	}
	n := 0
	if err := db.Scan(nil, func(k []byte, it Item) bool { n++; return true }); err != nil || n != 1 {
		t.Fatalf("scan %d %v", n, err)
	}
}
