package postgres

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/statecar/statecar/component"
)

// config is the parsed component metadata (stores.md §5).
type config struct {
	v2              bool
	pool            *pgxpool.Config
	table           string // v1 tableName, or v2 tablePrefix+"state"
	tablePrefix     string // v2 only
	metaTable       string
	timeout         time.Duration
	cleanupInterval time.Duration // 0 = disabled
}

const (
	defaultTimeout         = 20 * time.Second
	defaultCleanupInterval = time.Hour
)

func metaLookup(spec component.Spec, names ...string) (string, bool) {
	for _, n := range names {
		if v, ok := spec.Meta(n); ok {
			return v, true
		}
	}
	return "", false
}

// parseSeconds reads a Go duration string or an integer number of seconds
// (daprd's rule for the PostgreSQL store).
func parseSeconds(name, v string) (time.Duration, error) {
	if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("invalid value for '%s': %w", name, err)
	}
	return d, nil
}

// selectVersion maps spec.version to v1/v2 like daprd.
func selectVersion(spec component.Spec) (v2 bool, err error) {
	switch strings.ToLower(spec.Version) {
	case "", "v0", "v1":
		return false, nil
	case "v2":
		return true, nil
	default:
		return false, &component.VersionError{Type: spec.Type, Version: spec.Version}
	}
}

// validIdent accepts a table name as daprd interpolates it: identifiers,
// optionally schema-qualified, without quoting or injection.
func validIdent(s string) bool {
	if s == "" {
		return false
	}
	for _, part := range strings.Split(s, ".") {
		if part == "" {
			return false
		}
		for i, c := range part {
			ok := c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && (c >= '0' && c <= '9' || c == '$')
			if !ok {
				return false
			}
		}
	}
	return true
}

// parsePool builds the pool configuration from the connection metadata
// shared by daprd's PostgreSQL components (connectionString/url, host,
// hostaddr, port, database, user, password, sslRootCert, maxConns,
// connectionMaxIdleTime, queryExecMode) and refuses useAzureAD/useAWSIAM.
func parsePool(spec component.Spec) (*pgxpool.Config, error) {
	var (
		pool *pgxpool.Config
		err  error
	)
	cs, _ := metaLookup(spec, "connectionString", "url")
	if cs == "" {
		if _, ok := metaLookup(spec, "host"); !ok {
			return nil, errors.New("missing connection string")
		}
	}
	if pool, err = pgxpool.ParseConfig(cs); err != nil {
		return nil, fmt.Errorf("failed to parse connection string: %w", err)
	}
	cc := pool.ConnConfig
	if v, ok := metaLookup(spec, "host"); ok && v != "" {
		cc.Host = v
	}
	if v, ok := metaLookup(spec, "hostaddr"); ok && v != "" {
		cc.Host = v
	}
	if v, ok := metaLookup(spec, "port"); ok && v != "" {
		p, err := strconv.ParseUint(v, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("invalid port %q: %w", v, err)
		}
		cc.Port = uint16(p)
	}
	if v, ok := metaLookup(spec, "database"); ok && v != "" {
		cc.Database = v
	}
	if v, ok := metaLookup(spec, "user"); ok && v != "" {
		cc.User = v
	}
	if v, ok := metaLookup(spec, "password"); ok && v != "" {
		cc.Password = v
	}
	if v, ok := metaLookup(spec, "sslRootCert"); ok && v != "" {
		if cc.TLSConfig == nil {
			return nil, errors.New("sslRootCert is set but the connection string does not enable TLS")
		}
		pem := []byte(v)
		if !strings.Contains(v, "-----BEGIN") {
			if pem, err = os.ReadFile(v); err != nil {
				return nil, fmt.Errorf("cannot read sslRootCert: %w", err)
			}
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, errors.New("sslRootCert holds no PEM certificate")
		}
		cc.TLSConfig.RootCAs = roots
	}
	if v, ok := metaLookup(spec, "maxConns"); ok && v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, fmt.Errorf("invalid maxConns: %w", err)
		}
		if n > 1 {
			pool.MaxConns = int32(n)
		}
	}
	if v, ok := metaLookup(spec, "connectionMaxIdleTime"); ok && v != "" {
		if pool.MaxConnIdleTime, err = parseSeconds("connectionMaxIdleTime", v); err != nil {
			return nil, err
		}
	}
	if v, ok := metaLookup(spec, "queryExecMode"); ok && v != "" {
		modes := map[string]pgx.QueryExecMode{
			"cache_statement": pgx.QueryExecModeCacheStatement,
			"cache_describe":  pgx.QueryExecModeCacheDescribe,
			"describe_exec":   pgx.QueryExecModeDescribeExec,
			"exec":            pgx.QueryExecModeExec,
			"simple_protocol": pgx.QueryExecModeSimpleProtocol,
		}
		m, ok := modes[v]
		if !ok {
			return nil, fmt.Errorf("invalid queryExecMode %q", v)
		}
		cc.DefaultQueryExecMode = m
	}
	for _, name := range []string{"useAzureAD", "useAWSIAM"} {
		if v, ok := metaLookup(spec, name); ok {
			if on, _ := strconv.ParseBool(v); on {
				return nil, fmt.Errorf("%s is not supported by statecar", name)
			}
		}
	}
	return pool, nil
}

func parseConfig(spec component.Spec) (*config, error) {
	c := &config{timeout: defaultTimeout, cleanupInterval: defaultCleanupInterval}
	var err error
	if c.v2, err = selectVersion(spec); err != nil {
		return nil, err
	}
	if c.pool, err = parsePool(spec); err != nil {
		return nil, err
	}
	if c.v2 {
		c.tablePrefix, _ = metaLookup(spec, "tablePrefix")
		c.table = c.tablePrefix + "state"
	} else {
		c.table = "state"
		if v, ok := metaLookup(spec, "tableName"); ok && v != "" {
			c.table = v
		}
	}
	c.metaTable = "dapr_metadata"
	if v, ok := metaLookup(spec, "metadataTableName"); ok && v != "" {
		c.metaTable = v
	}
	if !validIdent(c.table) || !validIdent(c.metaTable) {
		return nil, fmt.Errorf("invalid table name %q or metadata table name %q", c.table, c.metaTable)
	}
	if v, ok := metaLookup(spec, "timeout", "timeoutInSeconds"); ok && v != "" {
		if c.timeout, err = parseSeconds("timeout", v); err != nil {
			return nil, err
		}
		if c.timeout < time.Second {
			return nil, errors.New("invalid value for 'timeout': must be greater than 1s")
		}
	}
	if v, ok := metaLookup(spec, "cleanupInterval", "cleanupIntervalInSeconds"); ok && v != "" {
		if c.cleanupInterval, err = parseSeconds("cleanupInterval", v); err != nil {
			return nil, err
		}
		if c.cleanupInterval < 0 {
			c.cleanupInterval = 0
		}
	}
	return c, nil
}
