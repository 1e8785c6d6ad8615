// Package pubsub defines statecar's pub/sub components: the broker
// interface the Pub/sub API publishes through and subscriptions read from,
// a registry of broker types, and pubsub.in-memory (contrib's in-process
// bus). Brokers over external servers (pubsub.redis) live beside their
// other components (package component/redis).
//
// A broker moves opaque bytes: the runtime builds and parses the
// CloudEvents envelope, matches routes and delivers to the app. What a
// broker does when a handler returns an error is its own rule, as in
// components-contrib (the in-memory bus logs it, Redis Streams acknowledge
// it); the runtime publishes to a dead-letter topic before that when one is
// configured.
package pubsub
