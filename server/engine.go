package server

import (
	"strconv"

	"github.com/statecar/statecar/kv"
)

type kvEngine struct{ db *kv.DB }

// KVEngine exposes the figures of an embedded kv.DB as statecar_* gauges
// (one series per figure, label store=<component name>; shard sizes as
// statecar_shard_size_bytes_<i>).
func KVEngine(db *kv.DB) EngineMetricser { return kvEngine{db: db} }

// EngineErr reports the engine's fail-stop state: non-nil once a write or
// fsync failed (for example on a full disk) and writes are refused until
// the process restarts (kv.DB.Err).
func (e kvEngine) EngineErr() error { return e.db.Err() }

// EngineHealther is implemented by engines that can fail (fail-stop). A
// failed engine turns GET /v1.0/healthz into 500, so that an orchestrator
// restarts the sidecar; reads keep working meanwhile.
type EngineHealther interface {
	EngineErr() error
}

// EngineMetrics returns the kv.Metrics snapshot as name -> value.
func (e kvEngine) EngineMetrics() map[string]float64 {
	m := e.db.Metrics()
	out := map[string]float64{
		"kv_applies_total":              float64(m.Applies),
		"kv_ops_total":                  float64(m.Ops),
		"kv_condition_failures_total":   float64(m.ConditionFail),
		"wal_fsyncs_total":              float64(m.Fsyncs),
		"wal_fsync_seconds_total":       m.FsyncTime.Seconds(),
		"wal_fsync_max_seconds":         m.FsyncMax.Seconds(),
		"wal_group_writes_total":        float64(m.Groups),
		"wal_group_size_mean":           m.GroupMean,
		"wal_group_size_max":            float64(m.GroupMax),
		"wal_written_bytes_total":       float64(m.WALBytes),
		"wal_segments":                  float64(m.WALSegments),
		"wal_size_bytes":                float64(m.WALSize),
		"wal_replay_bytes":              float64(m.ReplayBytes),
		"wal_replay_seconds":            m.ReplayTime.Seconds(),
		"kv_checkpoints_total":          float64(m.Checkpoints),
		"kv_pending_keys":               float64(m.PendingKeys),
		"ttl_keys_swept_total":          float64(m.KeysSwept),
		"ttl_sweeps_total":              float64(m.Sweeps),
		"kv_applied_seq":                float64(m.AppliedSeq),
		"kv_read_cache_hits_total":      float64(m.CacheHits),
		"kv_read_cache_misses_total":    float64(m.CacheMisses),
		"kv_read_cache_evictions_total": float64(m.CacheEvictions),
		"kv_read_cache_entries":         float64(m.CacheEntries),
		"kv_read_cache_bytes":           float64(m.CacheBytes),
	}
	for i, sz := range m.ShardSizes {
		out["shard_size_bytes_"+strconv.Itoa(i)] = float64(sz)
	}
	return out
}
