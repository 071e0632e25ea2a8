package chain

import (
	"encoding/binary"
	"fmt"
	"time"
)

// HeaderSize is the length of an encoded block header.
const HeaderSize = 80

// Header is the Bitcoin block header. Its encoding is exactly Bitcoin's, so a
// real Bitcoin header hashes to its real block hash.
type Header struct {
	Version    int32
	PrevBlock  Hash
	MerkleRoot Hash
	Timestamp  uint32 // seconds since the Unix epoch
	Bits       uint32 // compact target
	Nonce      uint32
}

// Bytes returns the 80-byte encoding: little-endian integers, hashes as computed.
func (h *Header) Bytes() [HeaderSize]byte {
	var b [HeaderSize]byte
	binary.LittleEndian.PutUint32(b[0:], uint32(h.Version))
	copy(b[4:36], h.PrevBlock[:])
	copy(b[36:68], h.MerkleRoot[:])
	binary.LittleEndian.PutUint32(b[68:], h.Timestamp)
	binary.LittleEndian.PutUint32(b[72:], h.Bits)
	binary.LittleEndian.PutUint32(b[76:], h.Nonce)
	return b
}

// Hash returns the block hash, SHA-256d of the encoded header.
func (h *Header) Hash() Hash {
	b := h.Bytes()
	return DoubleSHA256(b[:])
}

// Time returns the header timestamp.
func (h *Header) Time() time.Time { return time.Unix(int64(h.Timestamp), 0) }

// DecodeHeader reads an 80-byte header.
func DecodeHeader(b []byte) (Header, error) {
	var h Header
	if len(b) != HeaderSize {
		return h, fmt.Errorf("header: want %d bytes, have %d", HeaderSize, len(b))
	}
	h.Version = int32(binary.LittleEndian.Uint32(b[0:]))
	copy(h.PrevBlock[:], b[4:36])
	copy(h.MerkleRoot[:], b[36:68])
	h.Timestamp = binary.LittleEndian.Uint32(b[68:])
	h.Bits = binary.LittleEndian.Uint32(b[72:])
	h.Nonce = binary.LittleEndian.Uint32(b[76:])
	return h, nil
}
