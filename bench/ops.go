package bench

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Op is one kind of State API request.
type Op uint8

// The operations the load generator can send.
const (
	OpGet    Op = iota // GET one key
	OpSave             // save one item
	OpMSave            // save Batch items in one request
	OpBulk             // bulk get of Batch keys
	OpTx               // transaction of Batch upserts
	OpQuery            // alpha query (EQ on the "g" field of the value)
	OpDelete           // delete one key
	numOps
)

var opNames = [numOps]string{"get", "save", "msave", "bulk", "tx", "query", "delete"}

// String returns the op's name as used in -mix and -workload.
func (o Op) String() string {
	if o < numOps {
		return opNames[o]
	}
	return "op" + strconv.Itoa(int(o))
}

// ParseOp parses an op name.
func ParseOp(s string) (Op, error) {
	for i, n := range opNames {
		if strings.EqualFold(s, n) {
			return Op(i), nil
		}
	}
	return 0, fmt.Errorf("cannot parse op %q: want one of %s", s, strings.Join(opNames[:], ", "))
}

// NeedsData reports whether the op reads keys that should exist first.
func (o Op) NeedsData() bool { return o == OpGet || o == OpBulk || o == OpQuery }

// Mix is a weighted choice of ops. The zero Mix is invalid; build one with
// ParseMix.
type Mix struct {
	ops  []Op
	cum  []float64 // cumulative weights, normalised to end at 1
	text string
}

// ParseMix parses "get" or "get:80,save:20" (weights are relative).
func ParseMix(s string) (Mix, error) {
	var m Mix
	total := 0.0
	var w []float64
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, weight, hasW := strings.Cut(part, ":")
		op, err := ParseOp(name)
		if err != nil {
			return Mix{}, err
		}
		f := 1.0
		if hasW {
			f, err = strconv.ParseFloat(weight, 64)
			if err != nil || f <= 0 {
				return Mix{}, fmt.Errorf("cannot parse mix %q: bad weight %q", s, weight)
			}
		}
		m.ops = append(m.ops, op)
		w = append(w, f)
		total += f
	}
	if len(m.ops) == 0 {
		return Mix{}, fmt.Errorf("cannot parse mix %q: no operations", s)
	}
	acc := 0.0
	for _, f := range w {
		acc += f
		m.cum = append(m.cum, acc/total)
	}
	m.cum[len(m.cum)-1] = 1
	m.text = s
	return m, nil
}

// Pick returns the op for a uniform draw u in [0, 1).
func (m *Mix) Pick(u float64) Op {
	for i, c := range m.cum {
		if u < c {
			return m.ops[i]
		}
	}
	return m.ops[len(m.ops)-1]
}

// Ops returns the distinct ops of the mix.
func (m *Mix) Ops() []Op { return m.ops }

// String returns the mix as it was parsed.
func (m Mix) String() string { return m.text }

// Payload holds random printable bytes that request values are cut from,
// so values differ between requests without generating bytes per request.
// It is read-only after NewPayload and shared by all workers.
type Payload struct {
	data []byte
	size int
}

// payloadSlack is how far a value's start may move inside Payload.data.
const payloadSlack = 4096

// NewPayload returns values of size bytes (size >= 0).
func NewPayload(size int, seed uint64) *Payload {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	r := rand.New(rand.NewPCG(seed, 1))
	d := make([]byte, size+payloadSlack)
	for i := range d {
		d[i] = alphabet[r.IntN(len(alphabet))]
	}
	return &Payload{data: d, size: size}
}

// Value returns a value of the payload's size starting at offset
// off%payloadSlack; it is a view into shared read-only memory.
func (p *Payload) Value(off uint64) []byte {
	o := int(off % payloadSlack)
	return p.data[o : o+p.size]
}

// Groups is the number of distinct values of the "g" field that queries
// filter on: key k belongs to group k % Groups.
const Groups = 100

// appendJSONValue appends the JSON value stored for key k:
// {"g":"g<k%Groups>","p":"<payload>"}.
func appendJSONValue(dst []byte, k uint64, val []byte) []byte {
	dst = append(dst, `{"g":"g`...)
	dst = strconv.AppendUint(dst, k%Groups, 10)
	dst = append(dst, `","p":"`...)
	dst = append(dst, val...)
	return append(dst, `"}`...)
}
