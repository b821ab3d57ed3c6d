package parley

import (
	"crypto/rand"
	"time"
)

// MaxIDBytes is the longest caller-chosen id.
const MaxIDBytes = 255

// ValidID reports whether s is a caller-chosen id: 1 to 255 bytes of
// A-Z a-z 0-9 _ - . @ : + = ~, but not "." or "..", which no path can name
// (clients and proxies remove them as dot segments).
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > MaxIDBytes || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !idByte(s[i]) {
			return false
		}
	}
	return true
}

// ValidUserID is ValidID without the reserved word "search", which names the
// search route.
func ValidUserID(s string) bool {
	return ValidID(s) && s != "search"
}

func idByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '_', '-', '.', '@', ':', '+', '=', '~':
		return true
	}
	return false
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// RandomBase62 returns n characters drawn uniformly from base62 with
// crypto/rand: bytes of 248 and above are dropped, so that the remainder
// by 62 of those kept is uniform.
func RandomBase62(n int) string {
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/4+8)
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			// crypto/rand never fails on supported platforms; a failure is fatal.
			panic("parley: crypto/rand failed: " + err.Error())
		}
		for _, b := range buf {
			if b < 248 && len(out) < n {
				out = append(out, base62[b%62])
			}
		}
	}
	return string(out)
}

// NewMessageID returns "msg_" followed by 22 base62 characters: the
// millisecond of now in 8, then 14 random ones (83 bits). Ids made later
// sort after, so the unique index on ids grows at its end, as the table
// does: random ids dirtied a page of that index for nearly every message
// of a commit, and each dirty page is written to the log and synced.
func NewMessageID() string { return newMessageID(time.Now()) }

func newMessageID(now time.Time) string {
	b := make([]byte, 0, 26)
	b = append(b, "msg_"...)
	ms := uint64(max(now.UnixMilli(), 0))
	for i := 7; i >= 0; i-- {
		b = append(b, base62[ms/pow62[i]%62])
	}
	return string(append(b, RandomBase62(14)...))
}

// pow62 are the powers of 62 up to 62^7: eight base62 digits count
// milliseconds for about 6,900 years.
var pow62 = [8]uint64{1, 62, 62 * 62, 62 * 62 * 62, 62 * 62 * 62 * 62, 62 * 62 * 62 * 62 * 62, 62 * 62 * 62 * 62 * 62 * 62,
	62 * 62 * 62 * 62 * 62 * 62 * 62}

// ValidMessageID reports whether s has the shape of a generated message id.
func ValidMessageID(s string) bool {
	return len(s) == 26 && s[:4] == "msg_" && IsBase62(s[4:])
}

// IsBase62 reports whether s holds only letters and digits.
func IsBase62(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}
