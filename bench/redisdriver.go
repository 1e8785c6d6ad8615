package bench

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	redisstore "github.com/statecar/statecar/component/redis"
)

// redisStatusBase is where redis replies are counted in a status table:
// redisStatusBase = OK, redisStatusBase+1 = an error reply.
const redisStatusBase = grpcStatusBase + 32

// redisDriver speaks RESP to a redis-server on one connection, so that
// redis can be driven by the same generator, client costs and schedule as
// the sidecars (Proto "redis"). get/save/msave/bulk/delete map to GET, SET,
// MSET, MGET and DEL (save to EVALSHA of statecar's write script with
// Config.RedisSave "script"); tx maps to MSET; query has no equivalent. Keys are the
// generator's keys ("k123"). It does not allocate per request.
type redisDriver struct {
	c     net.Conn
	shape *reqShape
	wbuf  []byte
	vbuf  []byte
	buf   []byte
	r, w  int
}

func newRedisDriver(addr string, shape *reqShape) (*redisDriver, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("cannot connect to %s: %w", addr, err)
	}
	d := &redisDriver{c: c, shape: shape, buf: make([]byte, 64<<10)}
	if shape.redisScript {
		// Load the script so that EVALSHA finds it.
		d.wbuf = appendArrayHeader(d.wbuf[:0], 3)
		d.wbuf = appendBulk(d.wbuf, []byte("SCRIPT"))
		d.wbuf = appendBulk(d.wbuf, []byte("LOAD"))
		d.wbuf = appendBulk(d.wbuf, []byte(redisstore.ApplyScriptSource()))
		if st, err := d.roundTrip(); err != nil || st != redisStatusBase {
			c.Close()
			return nil, fmt.Errorf("cannot load the write script into %s: status %d, %v", addr, st, err)
		}
	}
	return d, nil
}

// applySHA is the SHA-1 of statecar's write script, as EVALSHA wants it.
var applySHA = func() []byte {
	h := sha1.Sum([]byte(redisstore.ApplyScriptSource()))
	return []byte(hex.EncodeToString(h[:]))
}()

func (d *redisDriver) close() { _ = d.c.Close() }

// appendBulk appends a RESP bulk string.
func appendBulk(dst, s []byte) []byte {
	dst = append(dst, '$')
	dst = strconv.AppendInt(dst, int64(len(s)), 10)
	dst = append(dst, "\r\n"...)
	dst = append(dst, s...)
	return append(dst, "\r\n"...)
}

func appendArrayHeader(dst []byte, n int) []byte {
	dst = append(dst, '*')
	dst = strconv.AppendInt(dst, int64(n), 10)
	return append(dst, "\r\n"...)
}

// appendCommand appends the RESP command for op to dst.
func (d *redisDriver) appendCommand(dst []byte, op Op, g *KeyGen) ([]byte, error) {
	s := d.shape
	key := func(k uint64) []byte {
		d.vbuf = AppendKey(d.vbuf[:0], s.keyPrefix, k)
		return d.vbuf
	}
	switch op {
	case OpGet, OpDelete:
		dst = appendArrayHeader(dst, 2)
		if op == OpGet {
			dst = appendBulk(dst, []byte("GET"))
		} else {
			dst = appendBulk(dst, []byte("DEL"))
		}
		return appendBulk(dst, key(g.Next())), nil
	case OpSave:
		k := g.Next()
		if s.redisScript {
			// A plain save's arguments: kind, etag, first-write, ttl, data.
			dst = appendArrayHeader(dst, 9)
			dst = appendBulk(dst, []byte("EVALSHA"))
			dst = appendBulk(dst, applySHA)
			dst = appendBulk(dst, []byte("1"))
			dst = appendBulk(dst, key(k))
			dst = appendBulk(dst, []byte("s"))
			dst = appendBulk(dst, nil)
			dst = appendBulk(dst, []byte("0"))
			dst = appendBulk(dst, []byte("0"))
			return appendBulk(dst, s.pay.Value(k)), nil
		}
		dst = appendArrayHeader(dst, 3)
		dst = appendBulk(dst, []byte("SET"))
		dst = appendBulk(dst, key(k))
		return appendBulk(dst, s.pay.Value(k)), nil
	case OpMSave, OpTx:
		dst = appendArrayHeader(dst, 1+2*s.batch)
		dst = appendBulk(dst, []byte("MSET"))
		for i := range s.batch {
			k := g.Next()
			dst = appendBulk(dst, key(k))
			dst = appendBulk(dst, s.pay.Value(k+uint64(i)))
		}
		return dst, nil
	case OpBulk:
		dst = appendArrayHeader(dst, 1+s.batch)
		dst = appendBulk(dst, []byte("MGET"))
		for range s.batch {
			dst = appendBulk(dst, key(g.Next()))
		}
		return dst, nil
	}
	return dst, fmt.Errorf("cannot send %v to redis: no equivalent command", op)
}

func (d *redisDriver) do(op Op, g *KeyGen) (int, error) {
	var err error
	d.wbuf, err = d.appendCommand(d.wbuf[:0], op, g)
	if err != nil {
		return 0, err
	}
	return d.roundTrip()
}

// roundTrip writes d.wbuf and reads one reply.
func (d *redisDriver) roundTrip() (int, error) {
	if _, err := d.c.Write(d.wbuf); err != nil {
		return 0, fmt.Errorf("cannot write command: %w", err)
	}
	if d.r == d.w {
		d.r, d.w = 0, 0
	}
	for {
		n, isErr, err := parseRESP(d.buf[d.r:d.w])
		if err == nil {
			d.r += n
			if isErr {
				return redisStatusBase + 1, nil
			}
			return redisStatusBase, nil
		}
		if err != errShortResponse {
			return 0, err
		}
		if d.w == len(d.buf) {
			if d.r > 0 {
				d.w = copy(d.buf, d.buf[d.r:d.w])
				d.r = 0
			} else {
				nb := make([]byte, 2*len(d.buf))
				d.w = copy(nb, d.buf[:d.w])
				d.buf = nb
			}
		}
		m, err := d.c.Read(d.buf[d.w:])
		d.w += m
		if m == 0 && err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, fmt.Errorf("cannot read reply: %w", err)
		}
	}
}

// parseRESP returns the length of the complete RESP reply at the start of
// b and whether it is an error reply; errShortResponse if b holds only part
// of one.
func parseRESP(b []byte) (n int, isErr bool, err error) {
	if len(b) == 0 {
		return 0, false, errShortResponse
	}
	i := bytes.Index(b, crlf)
	if i < 0 {
		return 0, false, errShortResponse
	}
	line := b[1:i]
	switch b[0] {
	case '+', ':':
		return i + 2, false, nil
	case '-':
		return i + 2, true, nil
	case '$':
		l, ok := parseSigned(line)
		if !ok {
			return 0, false, fmt.Errorf("cannot parse reply: bad bulk length %q", line)
		}
		if l < 0 {
			return i + 2, false, nil
		}
		end := i + 2 + int(l) + 2
		if len(b) < end {
			return 0, false, errShortResponse
		}
		if b[end-2] != '\r' || b[end-1] != '\n' {
			return 0, false, fmt.Errorf("cannot parse reply: bulk string not followed by CRLF")
		}
		return end, false, nil
	case '*':
		cnt, ok := parseSigned(line)
		if !ok {
			return 0, false, fmt.Errorf("cannot parse reply: bad array length %q", line)
		}
		p := i + 2
		for range max(cnt, 0) {
			m, e, err := parseRESP(b[p:])
			if err != nil {
				return 0, false, err
			}
			isErr = isErr || e
			p += m
		}
		return p, isErr, nil
	}
	return 0, false, fmt.Errorf("cannot parse reply: unknown type %q", b[0])
}

func parseSigned(b []byte) (int64, bool) {
	if len(b) > 0 && b[0] == '-' {
		n, ok := parseDecimal(b[1:])
		return -n, ok
	}
	return parseDecimal(b)
}
