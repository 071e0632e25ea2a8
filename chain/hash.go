package chain

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// HashSize is the length of a block or transaction hash.
const HashSize = 32

// Hash is a SHA-256d digest in the byte order it is computed in. Bitcoin shows
// hashes byte-reversed, so String and ParseHash use that display order.
type Hash [HashSize]byte

// DoubleSHA256 returns SHA-256(SHA-256(b)).
func DoubleSHA256(b []byte) Hash {
	first := sha256.Sum256(b)
	return sha256.Sum256(first[:])
}

// String returns the hash as display hex (byte-reversed).
func (h Hash) String() string {
	var r Hash
	for i := range h {
		r[i] = h[HashSize-1-i]
	}
	return hex.EncodeToString(r[:])
}

// IsZero reports whether every byte of h is zero.
func (h Hash) IsZero() bool { return h == Hash{} }

// ParseHash reads a hash written as display hex.
func ParseHash(s string) (Hash, error) {
	var h Hash
	if len(s) != 2*HashSize {
		return h, fmt.Errorf("hash %q: want %d hex digits, have %d", s, 2*HashSize, len(s))
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return h, fmt.Errorf("hash %q: %w", s, err)
	}
	for i := range h {
		h[i] = b[HashSize-1-i]
	}
	return h, nil
}

// MarshalText writes display hex, so JSON shows hashes as Bitcoin tools do.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText reads display hex.
func (h *Hash) UnmarshalText(b []byte) error {
	v, err := ParseHash(string(b))
	if err != nil {
		return err
	}
	*h = v
	return nil
}
