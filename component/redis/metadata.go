package redis

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/statecar/statecar/component"
	"github.com/statecar/statecar/internal/busypoll"
)

// config is the parsed component metadata (stores.md §2.8).
type config struct {
	addrs              []string
	username, password string
	db                 int
	cluster            bool
	failover           bool
	sentinelMaster     string
	sentinelUsername   string
	sentinelPassword   string
	tls                *tls.Config
	busyPoll           time.Duration // busyPoll metadata (statecar's): see internal/busypoll
	maxRetries         int
	minRetryBackoff    time.Duration
	maxRetryBackoff    time.Duration
	dialTimeout        time.Duration
	readTimeout        time.Duration
	writeTimeout       time.Duration
	poolSize           int
	minIdleConns       int
	poolTimeout        time.Duration
	connMaxLifetime    time.Duration
	connMaxIdleTime    time.Duration
	defaultTTL         *int64 // component ttlInSeconds; nil when absent
}

// metaLookup returns the first present of names.
func metaLookup(spec component.Spec, names ...string) (string, bool) {
	for _, n := range names {
		if v, ok := spec.Meta(n); ok && v != "" {
			return v, true
		}
	}
	return "", false
}

// parseDuration reads a Go duration string or an integer number of
// milliseconds (daprd's rule for the Redis store). Negative disables.
func parseDuration(name, v string) (time.Duration, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Duration(n) * time.Millisecond, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("cannot parse metadata %s=%q: %w", name, v, err)
	}
	return d, nil
}

func parseBool(name, v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "t", "true", "y", "yes", "on":
		return true, nil
	case "0", "f", "false", "n", "no", "off", "":
		return false, nil
	}
	return false, fmt.Errorf("cannot parse metadata %s=%q as a boolean", name, v)
}

func parseConfig(spec component.Spec) (*config, error) {
	c := &config{maxRetries: 3}
	host, ok := metaLookup(spec, "redisHost")
	if !ok {
		return nil, errors.New("redis store: redisHost is required")
	}
	port, hasPort := metaLookup(spec, "redisPort")
	for _, h := range strings.Split(host, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if hh, p, err := net.SplitHostPort(h); err == nil {
			if hasPort && p != port {
				return nil, fmt.Errorf("redis store: redisPort %s conflicts with the port in redisHost %s", port, h)
			}
			_ = hh
		} else {
			p := "6379"
			if hasPort {
				p = port
			}
			h = net.JoinHostPort(h, p)
		}
		c.addrs = append(c.addrs, h)
	}
	if len(c.addrs) == 0 {
		return nil, errors.New("redis store: redisHost is required")
	}
	c.username, _ = metaLookup(spec, "redisUsername")
	c.password, _ = metaLookup(spec, "redisPassword")
	var err error
	if v, ok := metaLookup(spec, "redisDB"); ok {
		if c.db, err = strconv.Atoi(v); err != nil {
			return nil, fmt.Errorf("redis store: cannot parse redisDB: %w", err)
		}
	}
	if v, ok := metaLookup(spec, "redisType"); ok {
		switch strings.ToLower(v) {
		case "cluster":
			c.cluster = true
		case "node":
		default:
			return nil, fmt.Errorf("redis store: unknown redisType %q (want node or cluster)", v)
		}
	}
	if v, ok := metaLookup(spec, "failover"); ok {
		if c.failover, err = parseBool("failover", v); err != nil {
			return nil, err
		}
	}
	c.sentinelMaster, _ = metaLookup(spec, "sentinelMasterName")
	c.sentinelUsername, _ = metaLookup(spec, "sentinelUsername")
	c.sentinelPassword, _ = metaLookup(spec, "sentinelPassword")
	if c.failover && c.sentinelMaster == "" {
		return nil, errors.New("redis store: sentinelMasterName is required with failover")
	}
	if v, ok := metaLookup(spec, "enableTLS"); ok {
		on, err := parseBool("enableTLS", v)
		if err != nil {
			return nil, err
		}
		if on {
			c.tls = &tls.Config{MinVersion: tls.VersionTLS12}
			if v, ok := metaLookup(spec, "insecureSkipTLSVerify"); ok {
				if c.tls.InsecureSkipVerify, err = parseBool("insecureSkipTLSVerify", v); err != nil {
					return nil, err
				}
			}
			certPEM, hasCert := metaLookup(spec, "clientCert")
			keyPEM, hasKey := metaLookup(spec, "clientKey")
			if hasCert != hasKey {
				return nil, errors.New("redis store: clientCert and clientKey must be given together")
			}
			if hasCert {
				pair, err := tls.X509KeyPair([]byte(certPEM), []byte(keyPEM))
				if err != nil {
					return nil, fmt.Errorf("redis store: cannot load client certificate: %w", err)
				}
				c.tls.Certificates = []tls.Certificate{pair}
			}
		}
	}
	if v, ok := metaLookup(spec, "useEntraID"); ok {
		on, err := parseBool("useEntraID", v)
		if err != nil {
			return nil, err
		}
		if on {
			return nil, errors.New("redis store: useEntraID is not supported by statecar")
		}
	}
	ints := []struct {
		names []string
		dst   *int
	}{
		{[]string{"redisMaxRetries", "maxRetries"}, &c.maxRetries},
		{[]string{"poolSize"}, &c.poolSize},
		{[]string{"minIdleConns"}, &c.minIdleConns},
	}
	for _, f := range ints {
		if v, ok := metaLookup(spec, f.names...); ok {
			if *f.dst, err = strconv.Atoi(v); err != nil {
				return nil, fmt.Errorf("redis store: cannot parse %s: %w", f.names[0], err)
			}
		}
	}
	durs := []struct {
		names []string
		dst   *time.Duration
	}{
		{[]string{"redisMinRetryInterval"}, &c.minRetryBackoff},
		{[]string{"redisMaxRetryInterval"}, &c.maxRetryBackoff},
		{[]string{"dialTimeout"}, &c.dialTimeout},
		{[]string{"readTimeout"}, &c.readTimeout},
		{[]string{"writeTimeout"}, &c.writeTimeout},
		{[]string{"poolTimeout"}, &c.poolTimeout},
		{[]string{"maxConnAge"}, &c.connMaxLifetime},
		{[]string{"idleTimeout"}, &c.connMaxIdleTime},
	}
	for _, f := range durs {
		if v, ok := metaLookup(spec, f.names...); ok {
			if *f.dst, err = parseDuration(f.names[0], v); err != nil {
				return nil, err
			}
		}
	}
	if c.minRetryBackoff == 0 {
		// Legacy name: an integer number of nanoseconds.
		if v, ok := metaLookup(spec, "maxRetryBackoff"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("redis store: cannot parse maxRetryBackoff: %w", err)
			}
			c.minRetryBackoff = time.Duration(n)
		}
	}
	// daprd's defaults where the metadata gives none (stores.md §2.8), not
	// go-redis's own; writeTimeout follows readTimeout. A negative value
	// disables: -1 is go-redis's "none" (no deadline, no backoff), and a
	// negative dialTimeout means no dial timeout.
	for _, d := range []struct {
		dst *time.Duration
		def time.Duration
	}{
		{&c.dialTimeout, 5 * time.Second},
		{&c.readTimeout, 3 * time.Second},
		{&c.minRetryBackoff, 2 * time.Second},
		{&c.maxRetryBackoff, 512 * time.Millisecond},
	} {
		switch {
		case *d.dst == 0:
			*d.dst = d.def
		case *d.dst < 0:
			*d.dst = -1
		}
	}
	switch {
	case c.writeTimeout == 0: // unset (or 0)
		c.writeTimeout = c.readTimeout
	case c.writeTimeout < 0:
		c.writeTimeout = -1
	}
	c.busyPoll = busypoll.DefaultBudget
	if v, ok := metaLookup(spec, "busyPoll"); ok {
		if c.busyPoll, err = parseDuration("busyPoll", v); err != nil {
			return nil, err
		}
		if c.busyPoll < 0 || c.busyPoll > busypoll.MaxBudget {
			return nil, fmt.Errorf("redis store: busyPoll=%q must be between 0 (off) and %v", v, busypoll.MaxBudget)
		}
	}
	if v, ok := metaLookup(spec, "idleCheckFrequency"); ok {
		// Accepted for compatibility; go-redis v9 checks idle connections on use.
		if _, err := parseDuration("idleCheckFrequency", v); err != nil {
			return nil, err
		}
	}
	if v, ok := metaLookup(spec, "ttlInSeconds"); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("redis store: cannot parse ttlInSeconds: %w", err)
		}
		if n > maxTTL {
			return nil, fmt.Errorf("redis store: ttlInSeconds %d is larger than %d", n, maxTTL)
		}
		c.defaultTTL = &n
	}
	return c, nil
}
