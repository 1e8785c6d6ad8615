// Package quantity parses Kubernetes resource quantities ("4Mi", "4Ki",
// "4194304", "1.5Gi", "2e3") the way daprd parses --max-body-size and
// --read-buffer-size (k8s.io/apimachinery resource.ParseQuantity followed by
// AsInt64).
//
// Invariants:
//  1. Parse never panics and never allocates more than a few small big.Rat
//     values; it is called once per flag at start-up, from main.
//  2. A value that is not a whole number of bytes is an error, as in daprd
//     ("cannot get bytes from resource quantity value").
package quantity
