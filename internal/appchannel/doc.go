// Package appchannel is the sidecar's channel to its application: the
// calls daprd makes to the app on --app-channel-address:--app-port, over
// HTTP(S) or gRPC(S) as --app-protocol says. It carries service
// invocations (InvokeMethod: the caller's verb, method, query, headers and
// body, and the app's status, headers and body back), the Configuration
// API's update deliveries (POST /configuration/{store}/{key}), pub/sub
// deliveries and input binding events. The HTTP client follows no
// redirect, as daprd's; with --app-protocol h2c it speaks HTTP/2 over plain
// TCP (prior knowledge), as daprd's h2c client.
//
// Over HTTP a call is a plain request with daprd's headers
// (Content-Type, and dapr-api-token when APP_API_TOKEN is set); https skips
// certificate verification, as daprd does for app channels. Over gRPC it is
// AppCallback.OnInvoke with the method, the data, the content type and an
// HTTP extension carrying the verb, as daprd's gRPC channel sends it, with
// the token in the dapr-api-token metadata.
//
// A Channel is safe for concurrent use.
package appchannel
