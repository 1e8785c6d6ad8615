package bench

import (
	"context"
	"fmt"
	"net/url"
	"strconv"

	commonv1pb "github.com/dapr/dapr/pkg/proto/common/v1"
	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// grpcStatusBase is added to a gRPC status code so that HTTP statuses and
// gRPC codes share one status table: code c is counted at grpcStatusBase+c.
const grpcStatusBase = 1000

// numStatus is the size of a worker's status table: HTTP statuses, then
// gRPC codes at grpcStatusBase, then redis replies at redisStatusBase.
const numStatus = redisStatusBase + 2

// Request shape shared by both drivers: what to send, not how.
type reqShape struct {
	store     string // store name as given
	keyPrefix string // text before the key number
	batch     int    // items per msave, bulk and tx request
	query     string // query body; "" = EQ on a random group
	pay       *Payload
	// redisScript: the redis driver saves with EVALSHA of statecar's write
	// script (Config.RedisSave "script").
	redisScript bool
}

// driver sends one request of op and returns its status (an HTTP status,
// or grpcStatusBase plus a gRPC code). A driver is owned by one worker.
type driver interface {
	do(op Op, g *KeyGen) (int, error)
	close()
}

// httpDriver builds requests into reused buffers and sends them on one
// keep-alive connection; it does not allocate per request.
type httpDriver struct {
	conn  *HTTPConn
	shape *reqShape
	host  string
	store string // path-escaped store name
	wbuf  []byte // the whole request
	bbuf  []byte // the body, built before the head (Content-Length)
}

func newHTTPDriver(addr string, shape *reqShape) (*httpDriver, error) {
	c, err := DialHTTP(addr)
	if err != nil {
		return nil, err
	}
	return &httpDriver{
		conn: c, shape: shape, host: addr, store: url.PathEscape(shape.store),
		wbuf: make([]byte, 0, 4096), bbuf: make([]byte, 0, 4096),
	}, nil
}

func (d *httpDriver) close() { _ = d.conn.Close() }

func (d *httpDriver) do(op Op, g *KeyGen) (int, error) {
	d.wbuf = d.appendRequest(d.wbuf[:0], op, g)
	resp, err := d.conn.RoundTrip(d.wbuf)
	if err != nil {
		return 0, err
	}
	return resp.Status, nil
}

// appendRequest appends one complete request for op to dst.
func (d *httpDriver) appendRequest(dst []byte, op Op, g *KeyGen) []byte {
	s := d.shape
	switch op {
	case OpGet, OpDelete:
		if op == OpGet {
			dst = append(dst, "GET /v1.0/state/"...)
		} else {
			dst = append(dst, "DELETE /v1.0/state/"...)
		}
		dst = append(dst, d.store...)
		dst = append(dst, '/')
		dst = AppendKey(dst, s.keyPrefix, g.Next())
		dst = append(dst, " HTTP/1.1\r\nHost: "...)
		dst = append(dst, d.host...)
		return append(dst, "\r\n\r\n"...)
	}
	b := d.bbuf[:0]
	var path string
	switch op {
	case OpSave, OpMSave:
		path = "/v1.0/state/"
		n := 1
		if op == OpMSave {
			n = s.batch
		}
		b = append(b, '[')
		for i := range n {
			if i > 0 {
				b = append(b, ',')
			}
			k := g.Next()
			b = append(b, `{"key":"`...)
			b = AppendKey(b, s.keyPrefix, k)
			b = append(b, `","value":`...)
			b = appendJSONValue(b, k, s.pay.Value(k+uint64(i)))
			b = append(b, '}')
		}
		b = append(b, ']')
	case OpBulk:
		path = "/v1.0/state/"
		b = append(b, `{"keys":[`...)
		for i := range s.batch {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '"')
			b = AppendKey(b, s.keyPrefix, g.Next())
			b = append(b, '"')
		}
		b = append(b, "]}"...)
	case OpTx:
		path = "/v1.0/state/"
		b = append(b, `{"operations":[`...)
		for i := range s.batch {
			if i > 0 {
				b = append(b, ',')
			}
			k := g.Next()
			b = append(b, `{"operation":"upsert","request":{"key":"`...)
			b = AppendKey(b, s.keyPrefix, k)
			b = append(b, `","value":`...)
			b = appendJSONValue(b, k, s.pay.Value(k+uint64(i)))
			b = append(b, "}}"...)
		}
		b = append(b, "]}"...)
	case OpQuery:
		path = "/v1.0-alpha1/state/"
		if s.query != "" {
			b = append(b, s.query...)
		} else {
			b = append(b, `{"filter":{"EQ":{"g":"g`...)
			b = strconv.AppendUint(b, g.Next()%Groups, 10)
			b = append(b, `"}},"page":{"limit":10}}`...)
		}
	}
	d.bbuf = b
	dst = append(dst, "POST "...)
	dst = append(dst, path...)
	dst = append(dst, d.store...)
	switch op {
	case OpBulk:
		dst = append(dst, "/bulk"...)
	case OpTx:
		dst = append(dst, "/transaction"...)
	case OpQuery:
		dst = append(dst, "/query"...)
	}
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, d.host...)
	dst = append(dst, "\r\nContent-Type: application/json\r\nContent-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(b)), 10)
	dst = append(dst, "\r\n\r\n"...)
	return append(dst, b...)
}

// grpcDriver sends requests through the generated Dapr client on one
// channel. It reuses its request messages; gRPC itself allocates per call.
type grpcDriver struct {
	cli   runtimev1pb.DaprClient
	ctx   context.Context
	shape *reqShape
	kbuf  []byte
	vbufs [][]byte

	get   runtimev1pb.GetStateRequest
	save  runtimev1pb.SaveStateRequest
	items []*commonv1pb.StateItem
	bulk  runtimev1pb.GetBulkStateRequest
	tx    runtimev1pb.ExecuteStateTransactionRequest
	query runtimev1pb.QueryStateRequest
	del   runtimev1pb.DeleteStateRequest
}

// DialGRPC opens one plaintext gRPC channel to addr.
func DialGRPC(addr string) (*grpc.ClientConn, error) {
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		return nil, fmt.Errorf("cannot dial gRPC %s: %w", addr, err)
	}
	return cc, nil
}

// newGRPCDriver returns a driver over channel cc, which the caller closes.
func newGRPCDriver(ctx context.Context, cc *grpc.ClientConn, shape *reqShape) *grpcDriver {
	n := max(shape.batch, 1)
	d := &grpcDriver{cli: runtimev1pb.NewDaprClient(cc), ctx: ctx, shape: shape}
	d.get.StoreName, d.save.StoreName, d.bulk.StoreName = shape.store, shape.store, shape.store
	d.tx.StoreName, d.query.StoreName, d.del.StoreName = shape.store, shape.store, shape.store
	d.items = make([]*commonv1pb.StateItem, n)
	d.vbufs = make([][]byte, n)
	for i := range d.items {
		d.items[i] = &commonv1pb.StateItem{}
		d.tx.Operations = append(d.tx.Operations, &runtimev1pb.TransactionalStateOperation{
			OperationType: "upsert", Request: d.items[i],
		})
	}
	d.bulk.Keys = make([]string, n)
	return d
}

// ensure makes room for n items in save requests.
func (d *grpcDriver) ensure(n int) {
	for len(d.items) < n {
		d.items = append(d.items, &commonv1pb.StateItem{})
		d.vbufs = append(d.vbufs, nil)
	}
}

func (d *grpcDriver) close() {}

func (d *grpcDriver) key(k uint64) string {
	d.kbuf = AppendKey(d.kbuf[:0], d.shape.keyPrefix, k)
	return string(d.kbuf)
}

func (d *grpcDriver) fill(n int, g *KeyGen) {
	for i := range n {
		k := g.Next()
		it := d.items[i]
		it.Key = d.key(k)
		d.vbufs[i] = appendJSONValue(d.vbufs[i][:0], k, d.shape.pay.Value(k+uint64(i)))
		it.Value = d.vbufs[i]
	}
}

func (d *grpcDriver) do(op Op, g *KeyGen) (int, error) {
	var err error
	switch op {
	case OpGet:
		d.get.Key = d.key(g.Next())
		_, err = d.cli.GetState(d.ctx, &d.get)
	case OpDelete:
		d.del.Key = d.key(g.Next())
		_, err = d.cli.DeleteState(d.ctx, &d.del)
	case OpSave, OpMSave:
		n := 1
		if op == OpMSave {
			n = d.shape.batch
		}
		d.fill(n, g)
		d.save.States = d.items[:n]
		_, err = d.cli.SaveState(d.ctx, &d.save)
	case OpBulk:
		for i := range d.shape.batch {
			d.bulk.Keys[i] = d.key(g.Next())
		}
		_, err = d.cli.GetBulkState(d.ctx, &d.bulk)
	case OpTx:
		d.fill(d.shape.batch, g)
		_, err = d.cli.ExecuteStateTransaction(d.ctx, &d.tx)
	case OpQuery:
		if d.shape.query != "" {
			d.query.Query = d.shape.query
		} else {
			d.query.Query = `{"filter":{"EQ":{"g":"g` + strconv.FormatUint(g.Next()%Groups, 10) + `"}},"page":{"limit":10}}`
		}
		_, err = d.cli.QueryStateAlpha1(d.ctx, &d.query)
	}
	if err != nil {
		st, ok := status.FromError(err)
		if !ok {
			return 0, err
		}
		return grpcStatusBase + int(st.Code()), nil
	}
	return grpcStatusBase, nil
}

func grpcCodeName(c int) string { return codes.Code(uint32(c)).String() }
