package kv

import (
	"errors"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/statecar/statecar/shard"
)

// sweepLoop is the TTL sweeper goroutine: every SweepInterval it deletes
// expired keys through the normal write path.
func (db *DB) sweepLoop() {
	defer close(db.sweepDone)
	t := time.NewTicker(db.opts.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-db.sweepStop:
			return
		case <-t.C:
			if _, err := db.Sweep(); err != nil && !errors.Is(err, ErrClosed) {
				db.opts.Logger.Warn("kv: TTL sweep failed", "err", err)
			}
		}
	}
}

// Sweep deletes every key whose expiry has passed (per Options.Now), in
// batches through the normal write path. Each delete is conditional on the
// expired value still being the current one, so a key rewritten meanwhile
// is kept. It returns the number of keys deleted. The background sweeper
// calls it; others may too (calls are serialised; Close waits for one in
// progress).
func (db *DB) Sweep() (int, error) {
	db.sweepMu.Lock()
	defer db.sweepMu.Unlock()
	if db.closed.Load() {
		return 0, ErrClosed
	}
	db.m.sweeps.Add(1)
	total := 0
	var b Batch
	var idxKeys [][]byte
	for i := range db.dbs {
		for {
			now := db.now().UnixNano()
			b.Reset()
			idxKeys = idxKeys[:0]
			upper := shard.AppendExpiryKey(nil, now, 0, nil)
			upper = upper[:9] // 'x' + expireAt: entries with expireAt < now
			upper = append(upper, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
			it, err := db.dbs[i].NewIter(&pebble.IterOptions{LowerBound: []byte{shard.PrefixExpiry}, UpperBound: upper})
			if err != nil {
				return total, err
			}
			for ok := it.First(); ok && len(idxKeys) < sweepBatch; ok = it.Next() {
				k := append([]byte(nil), it.Key()...)
				exp, seq, key, good := shard.ParseExpiryKey(k)
				if !good || exp > now {
					continue
				}
				idxKeys = append(idxKeys, k)
				b.Delete(key, Cond{Kind: condSeq, ETag: seq})
			}
			err = it.Close()
			if err != nil {
				return total, err
			}
			if len(idxKeys) == 0 {
				break
			}
			// condSeq skips keys rewritten or deleted since; their index
			// entries are stale either way.
			_, n, err := db.apply(&b)
			if err != nil {
				return total, err
			}
			total += n
			db.m.swept.Add(uint64(n))
			// Drop the index entries directly: losing this write in a
			// crash only leaves stale entries the next sweep drops again.
			pb := db.dbs[i].NewBatch()
			for _, k := range idxKeys {
				_ = pb.Delete(k, nil)
			}
			err = db.dbs[i].Apply(pb, pebble.NoSync)
			_ = pb.Close()
			if err != nil {
				return total, err
			}
			if len(idxKeys) < sweepBatch {
				break
			}
		}
	}
	return total, nil
}
