package redis

import (
	"context"
	"crypto/tls"
	"net"
	"time"

	"github.com/statecar/statecar/internal/busypoll"
)

// Replies are busy-polled (internal/busypoll) for up to the component's
// busyPoll metadata, default busypoll.DefaultBudget; 0 turns it off.

// pollCounters are statecar_store_redis_busy_poll_total{result=...}.
var pollCounters = busypoll.NewCounters("redis")

// pollDialer returns a go-redis Dialer whose connections busy-poll their
// replies for up to budget, with go-redis's own dial settings (timeout,
// TCP keep-alive) and, when tlsConf is set, TLS over the polled socket.
func pollDialer(timeout, budget time.Duration, tlsConf *tls.Config) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{
		Timeout:         timeout,
		KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: 30 * time.Second, Interval: 5 * time.Second, Count: 3},
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		c = busypoll.Wrap(c, budget, pollCounters)
		if tlsConf == nil {
			return c, nil
		}
		// As tls.DialWithDialer (go-redis's own dialer): the server name
		// defaults to the host dialled, the dial timeout bounds the handshake.
		conf := tlsConf
		if conf.ServerName == "" {
			conf = conf.Clone()
			conf.ServerName, _, _ = net.SplitHostPort(addr)
		}
		if timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		tc := tls.Client(c, conf)
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			return nil, err
		}
		return tc, nil
	}
}
