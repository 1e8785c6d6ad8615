package binding

import (
	"math"
	"testing"
	"time"
)

func TestTTL(t *testing.T) {
	for _, c := range []struct {
		meta    map[string]string
		want    time.Duration
		ok      bool
		wantErr string
	}{
		{meta: nil},
		{meta: map[string]string{"ttl": ""}},
		{meta: map[string]string{"ttl": "", "ttlInSeconds": "5"}}, // an empty ttl wins, as in contrib
		{meta: map[string]string{"TTLInSeconds": "5"}, want: 5 * time.Second, ok: true},
		{meta: map[string]string{"ttl": "90s"}, want: 90 * time.Second, ok: true},
		{meta: map[string]string{"ttl": "-3s"}, want: 0, ok: true},
		{meta: map[string]string{"ttl": "7"}, want: 7 * time.Second, ok: true},
		{meta: map[string]string{"ttl": "9223372036854775807"}, want: math.MaxInt64, ok: true},
		{meta: map[string]string{"ttl": "x"}, wantErr: "ttl value must be a valid integer: actual is 'x'"},
		{meta: map[string]string{"ttlInSeconds": "0"}, want: 0, ok: true}, // "0" parses as a duration
		{meta: map[string]string{"ttlInSeconds": "-5"}, wantErr: "ttl value must be higher than zero: actual is '-5'"},
	} {
		d, ok, err := TTL(c.meta)
		if c.wantErr != "" {
			if err == nil || err.Error() != c.wantErr {
				t.Errorf("TTL(%v) error %v, want %q", c.meta, err, c.wantErr)
			}
			continue
		}
		if err != nil || d != c.want || ok != c.ok {
			t.Errorf("TTL(%v) = %v %v %v, want %v %v", c.meta, d, ok, err, c.want, c.ok)
		}
	}
}
