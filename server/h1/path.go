package h1

import "strconv"

// This file holds the URL helpers the router needs, written to append into a
// caller's buffer so that the hot path does not allocate. Their behaviour
// follows Go's net/url (encodePath and encodeQueryComponent modes) and
// path.Clean, because daprd routes on path.Clean(r.URL.EscapedPath()) and
// decodes each parameter with url.QueryUnescape.

const upperhex = "0123456789ABCDEF"

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// shouldEscapePath reports whether net/url escapes c in a path (encodePath).
func shouldEscapePath(c byte) bool {
	if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
		return false
	}
	switch c {
	case '-', '_', '.', '~':
		return false
	case '$', '&', '+', ',', '/', ':', ';', '=', '@':
		return false
	}
	return true
}

// encodedPathOK[c] is true for bytes net/url's validEncoded(s, encodePath)
// accepts in an escaped path.
var encodedPathOK = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		switch c {
		case '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=', ':', '@', '[', ']', '%':
			t[c] = true
		default:
			t[c] = !shouldEscapePath(byte(c))
		}
	}
	return t
}()

// validEncodedPath mirrors net/url's validEncoded(s, encodePath): whether a raw
// path can be used as its own escaped form.
func validEncodedPath(s []byte) bool {
	for _, c := range s {
		if !encodedPathOK[c] {
			return false
		}
	}
	return true
}

// validPathEscapes reports whether every '%' in p starts a valid %XX escape,
// which is what Go's request parser demands of the request path.
func validPathEscapes(p []byte) bool {
	for i := 0; i < len(p); i++ {
		if p[i] == '%' {
			if i+2 >= len(p) || !ishex(p[i+1]) || !ishex(p[i+2]) {
				return false
			}
			i += 2
		}
	}
	return true
}

// appendEscapedPath appends escape(unescape(raw, encodePath), encodePath),
// which is what url.URL.EscapedPath returns when the raw path is not a valid
// encoding of itself. raw must have valid escapes (validPathEscapes).
func appendEscapedPath(dst, raw []byte) []byte {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '%' && i+2 < len(raw) {
			c = unhex(raw[i+1])<<4 | unhex(raw[i+2])
			i += 2
		}
		if shouldEscapePath(c) {
			dst = append(dst, '%', upperhex[c>>4], upperhex[c&15])
		} else {
			dst = append(dst, c)
		}
	}
	return dst
}

// escapeError is the error of a failed query unescape; its text matches Go's
// url.EscapeError for the offending escape.
type escapeError string

func (e escapeError) Error() string { return "invalid URL escape " + strconv.Quote(string(e)) }

// needsQueryUnescape reports whether s contains '%' or '+'.
func needsQueryUnescape(s []byte) bool {
	for _, c := range s {
		if c == '%' || c == '+' {
			return true
		}
	}
	return false
}

// appendQueryUnescape appends url.QueryUnescape(s) to dst. On an invalid escape
// it returns dst unchanged and the index of the bad '%' (ok=false).
func appendQueryUnescape(dst, s []byte) (out []byte, bad int, ok bool) {
	start := len(dst)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '%':
			if i+2 >= len(s) || !ishex(s[i+1]) || !ishex(s[i+2]) {
				return dst[:start], i, false
			}
			dst = append(dst, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		case '+':
			dst = append(dst, ' ')
		default:
			dst = append(dst, c)
		}
	}
	return dst, 0, true
}

// queryUnescapeError builds the error url.QueryUnescape returns for s whose
// bad escape starts at i (only called on the error path).
func queryUnescapeError(s []byte, i int) error {
	end := i + 3
	if end > len(s) {
		end = len(s)
	}
	return escapeError(s[i:end])
}

// isCleanPath reports whether path.Clean(p) == p, quickly, for the common case.
func isCleanPath(p []byte) bool {
	if len(p) == 0 || p[0] != '/' {
		return false
	}
	if len(p) == 1 {
		return true
	}
	if p[len(p)-1] == '/' {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] != '/' {
			continue
		}
		// p[i] == '/': the next element must not be empty, "." or "..".
		j := i + 1
		if j < len(p) && p[j] == '/' {
			return false
		}
		if j < len(p) && p[j] == '.' {
			if j+1 == len(p) || p[j+1] == '/' {
				return false
			}
			if p[j+1] == '.' && (j+2 == len(p) || p[j+2] == '/') {
				return false
			}
		}
	}
	return true
}

// appendCleanPath appends path.Clean(p) to dst (same algorithm as Go's path.Clean).
func appendCleanPath(dst, p []byte) []byte {
	if len(p) == 0 {
		return append(dst, '.')
	}
	base := len(dst)
	rooted := p[0] == '/'
	n := len(p)
	r, dotdot := 0, 0
	if rooted {
		dst = append(dst, '/')
		r, dotdot = 1, 1
	}
	dotdot += base
	for r < n {
		switch {
		case p[r] == '/':
			r++
		case p[r] == '.' && (r+1 == n || p[r+1] == '/'):
			r++
		case p[r] == '.' && p[r+1] == '.' && (r+2 == n || p[r+2] == '/'):
			r += 2
			switch {
			case len(dst) > dotdot:
				w := len(dst) - 1
				for w > dotdot && dst[w] != '/' {
					w--
				}
				dst = dst[:w]
			case !rooted:
				if len(dst) > base {
					dst = append(dst, '/')
				}
				dst = append(dst, '.', '.')
				dotdot = len(dst)
			}
		default:
			if rooted && len(dst) != base+1 || !rooted && len(dst) != base {
				dst = append(dst, '/')
			}
			for ; r < n && p[r] != '/'; r++ {
				dst = append(dst, p[r])
			}
		}
	}
	if len(dst) == base {
		dst = append(dst, '.')
	}
	return dst
}
