package kv

import "time"

// Metrics is a snapshot of engine figures. The server publishes them; kv
// itself exports nothing.
type Metrics struct {
	Applies        uint64        // batches written
	Ops            uint64        // ops written
	ConditionFail  uint64        // batches rejected by a condition
	Fsyncs         uint64        // WAL fsyncs
	FsyncTime      time.Duration // total time in WAL fsyncs (mean = FsyncTime/Fsyncs)
	FsyncMax       time.Duration // longest WAL fsync
	Groups         uint64        // WAL group writes
	GroupMean      float64       // mean records per group write
	GroupMax       uint64        // most records in one group write
	WALBytes       uint64        // bytes written to the WAL since Open
	WALSegments    int           // live WAL segment files
	WALSize        int64         // bytes in live WAL segments
	ReplayBytes    int64         // WAL bytes read at Open
	ReplayTime     time.Duration // time spent reading and replaying the WAL at Open
	Checkpoints    uint64        // completed checkpoints (shard flush + WAL truncation)
	ShardSizes     []uint64      // disk bytes per shard
	PendingKeys    int           // keys sequenced but not yet applied
	KeysSwept      uint64        // expired keys deleted by the sweeper
	Sweeps         uint64        // sweeps run
	AppliedSeq     uint64        // last sequence number applied to the shards
	Failed         bool          // writes are stopped (see DB.Err); reopen required
	CacheHits      uint64        // point reads answered by the read cache
	CacheMisses    uint64        // point reads that went to a shard
	CacheEvictions uint64        // read cache entries dropped for room
	CacheEntries   int           // keys in the read cache
	CacheBytes     int64         // approximate bytes the read cache holds
}

// Metrics returns a snapshot. Safe from any goroutine; not for hot paths.
func (db *DB) Metrics() Metrics {
	w := db.log.Metrics()
	m := Metrics{
		Applies:       db.m.applies.Load(),
		Ops:           db.m.batchOps.Load(),
		ConditionFail: db.m.condFails.Load(),
		Fsyncs:        w.Fsyncs,
		FsyncTime:     w.FsyncTime,
		FsyncMax:      w.FsyncMax,
		Groups:        w.Groups,
		GroupMax:      w.MaxGroup,
		WALBytes:      w.BytesWritten,
		WALSegments:   w.Segments,
		WALSize:       w.SegmentBytes,
		ReplayBytes:   w.ReplayBytes,
		ReplayTime:    w.ReplayTime,
		Checkpoints:   db.m.ckpts.Load(),
		KeysSwept:     db.m.swept.Load(),
		Sweeps:        db.m.sweeps.Load(),
		AppliedSeq:    db.applied.Load(),
		Failed:        db.fatal.Load() != nil,
	}
	if w.Groups > 0 {
		m.GroupMean = float64(w.Records) / float64(w.Groups)
	}
	db.commit.Lock()
	m.PendingKeys = len(db.commit.pending)
	db.commit.Unlock()
	for i := range db.vis {
		db.vis[i].RLock()
		if !db.closed.Load() {
			m.ShardSizes = append(m.ShardSizes, db.dbs[i].Metrics().DiskSpaceUsage())
		}
		if db.caches != nil {
			db.caches[i].stats(&m)
		}
		db.vis[i].RUnlock()
	}
	return m
}
