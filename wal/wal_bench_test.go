package wal

import (
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// BenchmarkAppendSync: group commit of the bare log on the real disk: each
// writer appends one 100-byte record and waits for its fsync.
func BenchmarkAppendSync(b *testing.B) {
	for _, w := range []int{1, 64} {
		b.Run(fmt.Sprintf("writers=%d", w), func(b *testing.B) {
			h := newHarness()
			o := h.opts(vfs.Default, 0)
			o.Dir = b.TempDir()
			l, _, err := Open(o, 1, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			var mu sync.Mutex
			var seq uint64
			payload := make([]byte, 100)
			one := func() {
				mu.Lock()
				seq++
				s := seq
				err := l.Append(s, payload)
				mu.Unlock()
				if err != nil {
					b.Error(err)
					return
				}
				if err := h.wait(s); err != nil {
					b.Error(err)
				}
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(payload) + HeaderSize))
			if w == 1 {
				for b.Loop() {
					one()
				}
			} else {
				b.SetParallelism(w / runtime.GOMAXPROCS(0))
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						one()
					}
				})
			}
			b.StopTimer()
			m := l.Metrics()
			if m.Groups > 0 {
				b.ReportMetric(float64(m.Records)/float64(m.Groups), "records/group")
			}
			if m.Fsyncs > 0 {
				b.ReportMetric(float64(m.FsyncTime.Microseconds())/float64(m.Fsyncs), "us/fsync")
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
