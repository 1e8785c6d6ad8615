// Package configstore defines the configuration stores behind the
// Configuration API (GET /v1.0/configuration/{store}, subscribe,
// unsubscribe; gRPC GetConfiguration and SubscribeConfiguration), as
// components-contrib 1.18 defines them: a store returns items (value,
// version, metadata) by key and pushes an UpdateEvent to a handler for every
// change of a subscribed key.
//
// The stores themselves live beside the state stores that share their
// connection code: configuration.redis in component/redis and
// configuration.postgresql (alias configuration.postgres) in
// component/postgres. Each registers itself with Register from an init
// function; Open creates one by type.
package configstore
