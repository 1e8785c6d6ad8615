package kv

import "sync"

// DefaultReadCacheSize is the read cache budget when Options.ReadCacheSize
// is 0.
const DefaultReadCacheSize = 32 << 20

// cacheStripes is the number of independently locked parts of a shard's
// read cache (a power of two).
const cacheStripes = 16

// entryOverhead approximates the bytes an entry costs beyond its key and
// stored value (map slot, entry struct, slice headers).
const entryOverhead = 96

// readCache keeps the latest applied state of recently read keys of one
// shard, so that a point read of a hot key does not search Pebble's
// memtables and sstables (the skiplist search of a full memtable costs
// several microseconds and cache misses).
//
// Consistency rests on the shard's visibility lock (DB.vis[i]), which
// already orders every change of the shard against every read:
//
//   - The applier changes entries only while it holds vis[i] for writing,
//     after Pebble applied the group, in sequence order: a put overwrites
//     the entry of a cached key, a delete removes it. So an entry never
//     differs from the shard while any reader can look.
//   - A reader fills an entry on a miss while it holds vis[i] for reading,
//     with what it just read from the shard: the shard cannot change before
//     it lets go, so the entry is the current state.
//   - Readers share vis[i], so map access among them is serialised by
//     stripe.mu. The applier, exclusive on vis[i], needs no stripe lock.
//   - Entry bytes are never modified in place while readers may look:
//     the applier reuses an entry's buffer only under the exclusive lock,
//     and eviction only drops map references.
//
// Expired entries stay until the sweeper's delete removes them; reads
// check expireAt like the shard path does. Absent keys are not cached.
type readCache struct {
	stripes  [cacheStripes]cacheStripe
	perLimit int64 // byte budget per stripe
	maxEntry int64 // larger entries are not cached: one value must not flush a stripe
}

type cacheStripe struct {
	mu           sync.Mutex
	m            map[string]*cacheEntry
	bytes        int64
	hits, misses uint64 // lookups, counted under mu (no shared atomic on the read path)
	evictions    uint64
	_            [16]byte // against false sharing between stripes
}

// cacheEntry is a stored value as the shard holds it: header fields and
// the stored bytes (s2-compressed when flags say so).
type cacheEntry struct {
	flags    byte
	seq      uint64
	expireAt int64
	stored   []byte
}

func newReadCache(budget int64) *readCache {
	c := &readCache{perLimit: max(budget/cacheStripes, 1)}
	c.maxEntry = c.perLimit / 2
	for i := range c.stripes {
		c.stripes[i].m = make(map[string]*cacheEntry)
	}
	return c
}

// stripe returns the stripe of a key whose xxhash64 is h. The shard index
// uses the hash modulo the shard count; the stripe takes high bits so both
// spread.
func (c *readCache) stripe(h uint64) *cacheStripe {
	return &c.stripes[(h>>56)&(cacheStripes-1)]
}

// lookup returns the entry of key or nil. REQUIRES: vis read-locked. The
// entry's fields stay valid until the caller releases vis.
func (c *readCache) lookup(key []byte, h uint64) *cacheEntry {
	s := c.stripe(h)
	s.mu.Lock()
	e := s.m[string(key)]
	if e != nil {
		s.hits++
	} else {
		s.misses++
	}
	s.mu.Unlock()
	return e
}

// fill records what a reader just read from the shard. REQUIRES: vis
// read-locked (the shard cannot change meanwhile).
func (c *readCache) fill(key []byte, kh uint64, h valueHeader, stored []byte) {
	cost := int64(len(key)+len(stored)) + entryOverhead
	if cost > c.maxEntry {
		return
	}
	s := c.stripe(kh)
	s.mu.Lock()
	if _, ok := s.m[string(key)]; !ok {
		s.m[string(key)] = &cacheEntry{flags: h.flags, seq: h.seq, expireAt: h.expireAt, stored: append([]byte(nil), stored...)}
		s.bytes += cost
		s.evict(c.perLimit)
	}
	s.mu.Unlock()
}

// evict drops entries (in map order, which Go randomises) until the stripe
// is within 7/8 of limit. REQUIRES: s.mu held or vis write-locked.
func (s *cacheStripe) evict(limit int64) {
	if s.bytes <= limit {
		return
	}
	for k, e := range s.m {
		delete(s.m, k)
		s.evictions++
		s.bytes -= int64(len(k)+len(e.stored)) + entryOverhead
		if s.bytes <= limit-limit/8 {
			return
		}
	}
}

// put updates a cached key after the applier wrote it. Keys not cached
// stay out (a write-mostly key space does not churn the cache).
// REQUIRES: vis write-locked.
func (c *readCache) put(key []byte, h uint64, flags byte, seq uint64, expireAt int64, stored []byte) {
	s := c.stripe(h)
	e := s.m[string(key)]
	if e == nil {
		return
	}
	s.bytes += int64(len(stored) - len(e.stored))
	e.flags, e.seq, e.expireAt = flags, seq, expireAt
	e.stored = append(e.stored[:0], stored...)
	s.evict(c.perLimit)
}

// remove drops key. REQUIRES: vis write-locked.
func (c *readCache) remove(key []byte, h uint64) {
	s := c.stripe(h)
	if e, ok := s.m[string(key)]; ok {
		delete(s.m, string(key))
		s.bytes -= int64(len(key)+len(e.stored)) + entryOverhead
	}
}

// reset drops every entry. REQUIRES: vis write-locked.
func (c *readCache) reset() {
	for i := range c.stripes {
		clear(c.stripes[i].m)
		c.stripes[i].bytes = 0
	}
}

// stats adds the cache's figures to m. REQUIRES: vis read-locked.
func (c *readCache) stats(m *Metrics) {
	for i := range c.stripes {
		s := &c.stripes[i]
		s.mu.Lock()
		m.CacheEntries += len(s.m)
		m.CacheBytes += s.bytes
		m.CacheHits += s.hits
		m.CacheMisses += s.misses
		m.CacheEvictions += s.evictions
		s.mu.Unlock()
	}
}
