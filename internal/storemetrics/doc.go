// Package storemetrics holds the metric plumbing shared by the external
// state stores (component/redis, component/postgres): the per-operation
// request histograms and the registry that lets pool gauges, registered
// once per component name, read whichever store of that name is open.
//
// VictoriaMetrics' default set cannot hold two metrics of one name, so a
// gauge outlives the store it was made for; a store reopened under the same
// component name (a restarted test, a reloaded component) takes it over.
//
// Invariants:
//  1. A gauge registered with Live.Gauge reads 0 while no store of its
//     component name is attached, and never reads a detached store.
//  2. Attach reports true exactly once per component name per process, so
//     gauges are registered once.
//
// Concurrency: Attach and Detach are called from the goroutine opening or
// closing a store; gauge callbacks run on the metrics scraper's goroutine.
// Live's fields are guarded by its mutex; the histograms are safe for
// concurrent use (they are VictoriaMetrics histograms).
package storemetrics
