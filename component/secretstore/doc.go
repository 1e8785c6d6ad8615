// Package secretstore holds the local secret stores daprd ships with,
// secretstores.local.env and secretstores.local.file, as components-contrib
// 1.18 implements them: the same names, the same flattening of nested JSON
// files, the same environment variables hidden from the env store. They
// serve the Secrets API (GET /v1.0/secrets/..., GetSecret/GetBulkSecret) and
// the secretKeyRef entries of other components.
//
// A Store is immutable once opened (a local.file store reads its file once,
// as daprd does), so its methods are safe for concurrent use.
package secretstore
