package hasher

import (
	"encoding/binary"
	"encoding/hex"
	"log/slog"
	"slices"
	"testing"
)

// bitcoinGenesis is Bitcoin's genesis header; its nonce is 2083236893.
const bitcoinGenesis = "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c"

func genesisWork(t testing.TB) Work {
	t.Helper()
	raw, err := hex.DecodeString(bitcoinGenesis)
	if err != nil {
		t.Fatal(err)
	}
	var w Work
	copy(w.Header[:], raw)
	binary.LittleEndian.PutUint32(w.Header[nonceOffset:], 0)
	// Target of bits 1d00ffff: 0xffff << 208, little-endian.
	w.Target[26], w.Target[27] = 0xff, 0xff
	return w
}

var quiet = slog.New(slog.DiscardHandler)

func TestMeets(t *testing.T) {
	var lo, hi, mid [32]byte
	lo[0] = 1
	hi[31] = 1
	mid[31], mid[0] = 1, 1
	tests := []struct {
		name         string
		hash, target [32]byte
		want         bool
	}{
		{"equal", hi, hi, true},
		{"below", lo, hi, true},
		{"above", hi, lo, false},
		{"low byte decides", mid, hi, false},
		{"high byte decides", lo, mid, true},
	}
	for _, tt := range tests {
		if got := Meets(&tt.hash, &tt.target); got != tt.want {
			t.Errorf("%s: Meets = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestCPUSearchFindsBitcoinGenesis(t *testing.T) {
	w := genesisWork(t)
	devs, _ := OpenAll(NewCPU(1))
	hits, err := devs[0].Search(&w, 2083236893-5000, 10000, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(hits, []uint32{2083236893}) {
		t.Fatalf("hits = %v, want [2083236893]", hits)
	}
	h := HashHeader(w.WithNonce(hits[0]))
	if got := hex.EncodeToString(reversed(h[:])); got != "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f" {
		t.Fatalf("hash = %s", got)
	}
}

func reversed(b []byte) []byte {
	r := slices.Clone(b)
	slices.Reverse(r)
	return r
}
