//go:build !linux

package wal

import "github.com/cockroachdb/pebble/v2/vfs"

// extendToSegment is a no-op off Linux: the segment keeps the size its
// records give it (see size_linux.go).
func extendToSegment(vfs.File, int64) error { return nil }

// shrinkToData is a no-op off Linux (see size_linux.go).
func shrinkToData(vfs.File, int64) error { return nil }
