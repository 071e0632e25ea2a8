package hashertest

import (
	"encoding/hex"
	"testing"

	"github.com/hashforge/hashforge/hasher"
)

// The package expands bits and shows hashes itself, without the chain: its
// expansion must give Bitcoin's targets.
func TestTargetOf(t *testing.T) {
	tests := []struct {
		bits uint32
		want string // big-endian hex, as Bitcoin writes targets
	}{
		{0x1d00ffff, "00000000ffff0000000000000000000000000000000000000000000000000000"},
		{0x207fffff, "7fffff0000000000000000000000000000000000000000000000000000000000"},
		{0x1b0404cb, "00000000000404cb000000000000000000000000000000000000000000000000"},
		{0x03123456, "0000000000000000000000000000000000000000000000000000000000123456"},
	}
	for _, tt := range tests {
		if got := displayHex(targetOf(tt.bits)); got != tt.want {
			t.Errorf("targetOf(%08x) = %s, want %s", tt.bits, got, tt.want)
		}
	}
}

func TestMainnetVectors(t *testing.T) {
	vs := MainnetVectors(t)
	genesis := GenesisWork(t)
	if vs[0].Height != 0 || vs[0].Work != genesis {
		t.Errorf("first vector: height %d, work %x; want the genesis work %x", vs[0].Height, vs[0].Work, genesis)
	}
	raw, _ := hex.DecodeString(GenesisHeader)
	var header [hasher.HeaderSize]byte
	copy(header[:], raw)
	if got := displayHex(hasher.HashHeader(header)); got != GenesisHash {
		t.Errorf("genesis hashes to %s, want %s", got, GenesisHash)
	}
}
