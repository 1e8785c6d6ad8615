package postgres

import (
	"errors"
	"fmt"
)

// parseUUID validates an ETag as a UUID the way daprd's v2 store does
// (github.com/google/uuid.Parse: plain, {braced}, urn:uuid: and 32-hex
// forms), returning its canonical lower-case text and google/uuid's error
// texts ("invalid UUID length: 3", "invalid UUID format").
func parseUUID(s string) (string, error) {
	switch len(s) {
	case 36:
	case 36 + 9:
		if len(s) < 9 || !equalFoldASCII(s[:9], "urn:uuid:") {
			return "", fmt.Errorf("invalid urn prefix: %q", s[:9])
		}
		s = s[9:]
	case 36 + 2:
		s = s[1:37]
	case 32:
		b := make([]byte, 0, 36)
		for i := 0; i < 32; i++ {
			if i == 8 || i == 12 || i == 16 || i == 20 {
				b = append(b, '-')
			}
			b = append(b, s[i])
		}
		s = string(b)
	default:
		return "", fmt.Errorf("invalid UUID length: %d", len(s))
	}
	if s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return "", errors.New("invalid UUID format")
	}
	out := []byte(s)
	for i, c := range out {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
		case c >= 'A' && c <= 'F':
			out[i] = c + 'a' - 'A'
		default:
			return "", errors.New("invalid UUID format")
		}
	}
	return string(out), nil
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x >= 'A' && x <= 'Z' {
			x += 'a' - 'A'
		}
		if y >= 'A' && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
