package udsock

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"syscall"
	"time"
)

// Listen listens on the unix socket path, first removing a stale socket
// file there (Invariant 2).
func Listen(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSocket != 0 {
		c, err := net.DialTimeout("unix", path, time.Second)
		switch {
		case err == nil:
			_ = c.Close() // in use: net.Listen below fails (Invariant 1)
		case errors.Is(err, syscall.ECONNREFUSED):
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
		}
	}
	return net.Listen("unix", path)
}
