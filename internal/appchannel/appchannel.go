package appchannel

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	commonv1pb "github.com/dapr/dapr/pkg/proto/common/v1"
	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/anypb"
)

// tokenHeader is daprd's app API token header and gRPC metadata key.
const tokenHeader = "dapr-api-token"

// Config describes the app channel (the daprd flags of the same names).
type Config struct {
	Protocol string // "http" (default), "https", "h2c", "grpc" or "grpcs"
	Address  string // --app-channel-address
	Port     int    // --app-port; <= 0 means there is no app channel
	// Token is APP_API_TOKEN: sent as dapr-api-token on every call.
	Token string
	// Timeout bounds one call (0: no limit, as daprd's app channel).
	Timeout time.Duration
}

// Channel calls the application.
type Channel struct {
	cfg    Config
	base   string // http(s)://host:port
	client *http.Client

	grpcOnce sync.Once
	conn     *grpc.ClientConn
	connErr  error
}

// New returns the channel of cfg, or nil when cfg has no app port (daprd:
// the app channel is nil).
func New(cfg Config) *Channel {
	if cfg.Port <= 0 {
		return nil
	}
	if cfg.Address == "" {
		cfg.Address = "127.0.0.1"
	}
	c := &Channel{cfg: cfg}
	hostPort := net.JoinHostPort(cfg.Address, strconv.Itoa(cfg.Port))
	// daprd's app client: a local channel to one host keeps up to 64 idle
	// connections (fewer would close and redial them under load).
	tr := &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64, MaxConnsPerHost: 1024, IdleConnTimeout: 90 * time.Second}
	scheme := "http"
	if cfg.Protocol == "https" {
		scheme = "https"
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // daprd's app channel does not verify the app's certificate
	}
	c.base = scheme + "://" + hostPort
	if cfg.Protocol == "h2c" {
		// daprd's h2c app client: HTTP/2 over plain TCP, prior knowledge.
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		tr.Protocols = &p
	}
	// daprd's app client follows no redirect: the app's 3xx is the answer.
	c.client = &http.Client{Transport: tr, Timeout: cfg.Timeout, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	return c
}

// IsGRPC reports whether the app speaks gRPC.
func (c *Channel) IsGRPC() bool { return c.cfg.Protocol == "grpc" || c.cfg.Protocol == "grpcs" }

// Request is one HTTP call of the app.
type Request struct {
	Verb, Method, ContentType string
	// Header holds extra request headers.
	Header map[string]string
	Body   []byte
}

// Response is the app's answer (the body is read up to 4 MiB).
type Response struct {
	Status int
	Body   []byte
}

// maxResponse bounds the response body Do reads.
const maxResponse = 4 << 20

// Do calls the app over HTTP (not for gRPC apps).
func (c *Channel) Do(ctx context.Context, r *Request) (*Response, error) {
	u := c.base
	if !strings.HasPrefix(r.Method, "/") {
		u += "/"
	}
	u += r.Method
	req, err := http.NewRequestWithContext(ctx, r.Verb, u, bytes.NewReader(r.Body))
	if err != nil {
		return nil, err
	}
	for k, v := range r.Header {
		req.Header.Set(k, v)
	}
	if r.ContentType != "" {
		req.Header.Set("Content-Type", r.ContentType)
	}
	if c.cfg.Token != "" {
		req.Header.Set(tokenHeader, c.cfg.Token)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, err
	}
	return &Response{Status: resp.StatusCode, Body: body}, nil
}

// WaitReady returns once the app port accepts TCP connections, polling
// every 50 ms as daprd waits for the app before it talks to it, or when
// ctx is done.
func (c *Channel) WaitReady(ctx context.Context) error {
	addr := net.JoinHostPort(c.cfg.Address, strconv.Itoa(c.cfg.Port))
	var d net.Dialer
	for {
		dctx, cancel := context.WithTimeout(ctx, time.Second)
		conn, err := d.DialContext(dctx, "tcp", addr)
		cancel()
		if err == nil {
			_ = conn.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Invoke calls method on the app with verb, content type and body, and
// returns the app's status: the HTTP status, or for a gRPC app 200 when
// OnInvoke succeeded (statecar's reading of success; daprd compares the
// gRPC code 0 with 200 and logs every gRPC delivery as failed).
func (c *Channel) Invoke(ctx context.Context, verb, method, contentType string, body []byte) (int, error) {
	if c.IsGRPC() {
		return c.invokeGRPC(ctx, verb, method, contentType, body)
	}
	u := c.base
	if !strings.HasPrefix(method, "/") {
		u += "/"
	}
	u += method
	req, err := http.NewRequestWithContext(ctx, verb, u, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.cfg.Token != "" {
		req.Header.Set(tokenHeader, c.cfg.Token)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

func (c *Channel) grpcConn() (*grpc.ClientConn, error) {
	c.grpcOnce.Do(func() {
		creds := insecure.NewCredentials()
		if c.cfg.Protocol == "grpcs" {
			creds = credentials.NewTLS(&tls.Config{InsecureSkipVerify: true}) //nolint:gosec // as daprd's app channel
		}
		c.conn, c.connErr = grpc.NewClient(net.JoinHostPort(c.cfg.Address, strconv.Itoa(c.cfg.Port)),
			grpc.WithTransportCredentials(creds))
	})
	return c.conn, c.connErr
}

// tokenContext adds the app API token (APP_API_TOKEN) to a gRPC call.
func (c *Channel) tokenContext(ctx context.Context) context.Context {
	if c.cfg.Token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, tokenHeader, c.cfg.Token)
	}
	return ctx
}

// callContext is tokenContext bounded by Config.Timeout when it is set.
func (c *Channel) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx = c.tokenContext(ctx)
	if c.cfg.Timeout > 0 {
		return context.WithTimeout(ctx, c.cfg.Timeout)
	}
	return ctx, func() {}
}

func (c *Channel) invokeGRPC(ctx context.Context, verb, method, contentType string, body []byte) (int, error) {
	conn, err := c.grpcConn()
	if err != nil {
		return 0, fmt.Errorf("error getting app connection: %w", err)
	}
	ctx, cancel := c.callContext(ctx)
	defer cancel()
	v, ok := commonv1pb.HTTPExtension_Verb_value[strings.ToUpper(verb)]
	if !ok {
		v = int32(commonv1pb.HTTPExtension_POST)
	}
	_, err = runtimev1pb.NewAppCallbackClient(conn).OnInvoke(ctx, &commonv1pb.InvokeRequest{
		Method:        method,
		Data:          &anypb.Any{Value: body},
		ContentType:   contentType,
		HttpExtension: &commonv1pb.HTTPExtension{Verb: commonv1pb.HTTPExtension_Verb(v)},
	})
	if err != nil {
		return 0, err
	}
	return http.StatusOK, nil
}

// Close releases the channel's connections.
func (c *Channel) Close() error {
	if c == nil {
		return nil
	}
	c.client.CloseIdleConnections()
	c.grpcOnce.Do(func() {}) // orders the read of conn after a dial in flight
	if c.conn != nil {
		return c.conn.Close()
	}
	return nil
}
