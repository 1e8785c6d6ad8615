// Package cronbinding is the "bindings.cron" input binding
// (components-contrib bindings/cron): an event for the app on every tick of
// a schedule (dapr/kit's cron: an optional seconds field, five fields, or a
// descriptor such as "@every 15s" or "@daily").
package cronbinding
