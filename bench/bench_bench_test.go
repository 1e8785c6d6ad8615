package bench

import (
	"fmt"
	"strings"
	"testing"
)

// Benchmarks of the load generator's own hot path: what it costs to build
// a request, parse a response, draw a key and record a latency. Run with
//
//	go test -run '^$' -bench . -benchmem ./bench/

var sinkInt int

func BenchmarkAppendRequest(b *testing.B) {
	for _, op := range []Op{OpGet, OpSave, OpMSave, OpBulk, OpTx} {
		for _, size := range []int{100, 1024} {
			b.Run(fmt.Sprintf("op=%v/size=%s", op, SizeName(size)), func(b *testing.B) {
				shape := &reqShape{store: "statestore", keyPrefix: "k", batch: 10, pay: NewPayload(size, 1)}
				d := &httpDriver{shape: shape, host: "127.0.0.1:3500", store: "statestore"}
				g, _ := NewKeyGen(DistUniform, 100000, 1, nil)
				d.wbuf = d.appendRequest(d.wbuf[:0], op, g)
				b.SetBytes(int64(len(d.wbuf)))
				b.ReportAllocs()
				for b.Loop() {
					d.wbuf = d.appendRequest(d.wbuf[:0], op, g)
				}
				sinkInt = len(d.wbuf)
			})
		}
	}
}

func BenchmarkRespReaderNext(b *testing.B) {
	for _, size := range []int{0, 100, 1024, 16384} {
		for _, chunked := range []bool{false, true} {
			if size == 0 && chunked {
				continue
			}
			body := strings.Repeat("v", size)
			raw := "HTTP/1.1 204 No Content\r\nTraceparent: 00-00000000000000000000000000000000-0000000000000000-00\r\n\r\n"
			if size > 0 && !chunked {
				raw = fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nEtag: 12345\r\nContent-Length: %d\r\n\r\n%s", size, body)
			} else if chunked {
				raw = fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", size, body)
			}
			b.Run(fmt.Sprintf("size=%s/chunked=%v", SizeName(size), chunked), func(b *testing.B) {
				rr := NewRespReader(&loopReader{b: []byte(raw)}, 64<<10)
				b.SetBytes(int64(len(raw)))
				b.ReportAllocs()
				for b.Loop() {
					resp, err := rr.Next()
					if err != nil {
						b.Fatal(err)
					}
					sinkInt += resp.Status
				}
			})
		}
	}
}

func BenchmarkKeyGenNext(b *testing.B) {
	for _, dist := range []Dist{DistUniform, DistZipf} {
		b.Run("dist="+string(dist)+"/keys=1000000", func(b *testing.B) {
			var tab *ZipfTable
			if dist == DistZipf {
				tab = NewZipfTable(1000000, ZipfTheta)
			}
			g, _ := NewKeyGen(dist, 1000000, 1, tab)
			b.ReportAllocs()
			for b.Loop() {
				sinkInt += int(g.Next())
			}
		})
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	var h Histogram
	b.ReportAllocs()
	v := int64(12345)
	for b.Loop() {
		h.Record(v)
		v = (v*1103515245 + 12345) & (1<<30 - 1)
	}
	sinkInt = int(h.Count())
}
