package kv_test

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/statecar/statecar/kv"
)

func Example() {
	db, err := kv.Open("example", kv.Options{FS: vfs.NewMem(), Shards: 2})
	if err != nil {
		panic(err)
	}
	defer db.Close()

	// Create a key only if absent.
	var b kv.Batch
	b.Put([]byte("user/1"), []byte(`{"name":"ada"}`), kv.Cond{Kind: kv.CondNotExists}, 0)
	etag, err := db.Apply(&b)
	if err != nil {
		panic(err)
	}

	// Update it only if nobody changed it since.
	b.Reset()
	b.Put([]byte("user/1"), []byte(`{"name":"ada l."}`), kv.Cond{Kind: kv.CondETag, ETag: etag}, 0)
	if _, err := db.Apply(&b); err != nil {
		panic(err)
	}

	// A stale ETag fails the whole batch.
	b.Reset()
	b.Delete([]byte("user/1"), kv.Cond{Kind: kv.CondETag, ETag: etag})
	_, err = db.Apply(&b)
	fmt.Println(errors.Is(err, kv.ErrConditionFailed))

	it, found, err := db.Get([]byte("user/1"), nil)
	fmt.Println(string(it.Value), found, err)
	// Output:
	// true
	// {"name":"ada l."} true <nil>
}
