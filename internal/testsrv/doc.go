// Package testsrv starts real Redis and PostgreSQL servers for tests: the
// Debian packages' binaries (/usr/bin/redis-server,
// /usr/lib/postgresql/15/bin), on free loopback ports, with throwaway data
// directories that are removed by Close.
//
// StartSentinel adds a Redis Sentinel in front of a Redis server;
// RedisOptions.Cluster makes a one-node Redis Cluster, StartRedisCluster a
// cluster of several masters (each node's bus port is a free port of its
// own, not port+10000, which can pass 65535), and RedisOptions.ReplicaOf a
// replica. RedisOptions.TLS (a TLS-only Redis,
// optionally requiring client certificates) and PostgresOptions.TLS (ssl
// on) use a throwaway certificate authority (NewPKI) whose CA and client
// certificate the tests hand to the stores.
//
// A server can be stopped (gracefully with Stop, or like a crash with Kill)
// and started again on the same data and port with Start, which is what the
// stores' fault tests need.
//
// Invariants:
//  1. A server returned by StartRedis/StartPostgres/StartSentinel is ready
//     and is the process it started: it has answered a PING and INFO with
//     its own process_id (Redis) or a connection reporting its own data
//     directory (PostgreSQL). A port taken by another process between the
//     pick and the bind is detected ("Address already in use") and another
//     port is picked, up to portAttempts times.
//  2. Start after Stop/Kill reuses the same port and data directory, so an
//     acknowledged write that the server made durable is visible again (if
//     another process took the port meanwhile, Start fails; it cannot move).
//  3. Close stops the process and removes every file the server created;
//     it is safe to call more than once.
//  4. PostgreSQL refuses to run as root: when the test runs as root the
//     server processes run as the "postgres" OS user and the data directory
//     is chowned to it.
//
// Missing binaries: StartRedis/StartPostgres return an error wrapping
// ErrMissingBinary. Require turns that into t.Skip unless the environment
// variable CI is set (then it is a test failure), and any other error into a
// test failure.
//
// Concurrency: a *Redis or *Postgres is meant to be driven by one goroutine
// (a TestMain or one test); Addr/DSN may be read from any goroutine.
package testsrv
