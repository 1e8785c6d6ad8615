package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/statecar/statecar/component"
	"github.com/statecar/statecar/internal/storetest"
)

// BenchmarkStore measures Get and Set through state.postgresql (v1 and v2)
// with 100-byte values, from one goroutine and from 32, beside the same
// primary-key SELECT / UPSERT issued with plain pgx.
func BenchmarkStore(b *testing.B) {
	ctx := context.Background()
	val := []byte(`"` + strings.Repeat("x", 98) + `"`)
	const nkeys = 1000
	for _, v := range []string{"v1", "v2"} {
		s := open(b, v, map[string]string{"maxConns": "32"})
		keys := make([]string, nkeys)
		bkeys := make([][]byte, nkeys)
		for i := range keys {
			keys[i] = fmt.Sprintf("bench||%d", i)
			bkeys[i] = []byte(keys[i])
			mustSet(b, s, keys[i], string(val))
		}
		b.Run("version="+v+"/op=get/clients=1", func(b *testing.B) {
			b.ReportAllocs()
			var resp component.GetResponse
			req := &component.GetRequest{}
			storetest.BenchSerial(b, func(i int) error {
				req.Key = bkeys[i%nkeys]
				return s.Get(ctx, req, &resp)
			})
		})
		b.Run("version="+v+"/op=set/clients=1", func(b *testing.B) {
			b.ReportAllocs()
			storetest.BenchSerial(b, func(i int) error {
				return s.BulkSet(ctx, []component.SetRequest{{Key: keys[i%nkeys], Value: val}})
			})
		})
		b.Run("version="+v+"/op=get/clients=32", func(b *testing.B) {
			b.ReportAllocs()
			storetest.BenchParallel(b, func(i int) error {
				var resp component.GetResponse
				return s.Get(ctx, &component.GetRequest{Key: bkeys[i%nkeys]}, &resp)
			})
		})
		b.Run("version="+v+"/op=set/clients=32", func(b *testing.B) {
			b.ReportAllocs()
			storetest.BenchParallel(b, func(i int) error {
				return s.BulkSet(ctx, []component.SetRequest{{Key: keys[i%nkeys], Value: val}})
			})
		})
		if v == "v1" {
			db, tb := s.Pool(), s.cfg.table
			b.Run("version=raw/op=get/clients=1", func(b *testing.B) {
				b.ReportAllocs()
				var out []byte
				storetest.BenchSerial(b, func(i int) error {
					return db.QueryRow(ctx, `SELECT value FROM `+tb+` WHERE key = $1`, keys[i%nkeys]).Scan(&out)
				})
			})
			b.Run("version=raw/op=set/clients=1", func(b *testing.B) {
				b.ReportAllocs()
				storetest.BenchSerial(b, func(i int) error {
					_, err := db.Exec(ctx, `UPDATE `+tb+` SET value = $2::text::jsonb WHERE key = $1`, keys[i%nkeys], string(val))
					return err
				})
			})
		}
	}
}
