//go:build !linux

package wal

import "github.com/cockroachdb/pebble/v2/vfs"

// setSize is a no-op off Linux: a segment keeps the size its records give
// it (see size_linux.go).
func setSize(vfs.File, int64) error { return nil }
