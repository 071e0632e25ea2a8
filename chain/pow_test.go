package chain_test

import (
	"encoding/hex"
	"encoding/json"
	"math"
	"math/big"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/hashforge/hashforge/chain"
)

// headerVector is a real Bitcoin mainnet header with the fields block
// explorers show for it. Matching them proves the header encoding, the hash
// and its display order, and the compact target are Bitcoin's exactly.
type headerVector struct {
	Height    uint64 `json:"height"`
	HeaderHex string `json:"header_hex"`
	Nonce     uint32 `json:"nonce"`
	BitsHex   string `json:"bits_hex"`
	HashHex   string `json:"hash_hex"`
}

func loadHeaderVectors(t testing.TB) []headerVector {
	t.Helper()
	raw, err := os.ReadFile("testdata/bitcoin-mainnet-headers.json")
	if err != nil {
		t.Fatal(err)
	}
	var vs []headerVector
	if err := json.Unmarshal(raw, &vs); err != nil {
		t.Fatalf("parse vectors: %v", err)
	}
	// An empty or truncated file must not pass as "every vector matched".
	if len(vs) < 10 {
		t.Fatalf("want at least 10 header vectors, have %d", len(vs))
	}
	return vs
}

func TestBitcoinHeaderVectors(t *testing.T) {
	vs := loadHeaderVectors(t)
	hashes := make(map[uint64]chain.Hash)
	for _, v := range vs {
		t.Run(strconv.FormatUint(v.Height, 10), func(t *testing.T) {
			raw, err := hex.DecodeString(v.HeaderHex)
			if err != nil {
				t.Fatal(err)
			}
			h, err := chain.DecodeHeader(raw)
			if err != nil {
				t.Fatal(err)
			}
			if enc := h.Bytes(); string(enc[:]) != string(raw) {
				t.Errorf("re-encoded header\n%x\nwant\n%x", enc, raw)
			}
			hash := h.Hash()
			if hash.String() != v.HashHex {
				t.Errorf("hash %s, want %s", hash, v.HashHex)
			}
			if h.Nonce != v.Nonce {
				t.Errorf("nonce %d, want %d", h.Nonce, v.Nonce)
			}
			if bits, err := strconv.ParseUint(v.BitsHex, 16, 32); err != nil || h.Bits != uint32(bits) {
				t.Errorf("bits %08x, want %s", h.Bits, v.BitsHex)
			}
			if chain.HashToBig(hash).Cmp(chain.CompactToBig(h.Bits)) > 0 {
				t.Errorf("hash %s is above the target of bits %08x", hash, h.Bits)
			}
			hashes[v.Height] = hash
			// Consecutive vectors must link, which pins PrevBlock's byte order.
			if prev, ok := hashes[v.Height-1]; ok && v.Height > 0 && h.PrevBlock != prev {
				t.Errorf("prev block %s, want %s", h.PrevBlock, prev)
			}
		})
	}
}

// TestDifficulty checks Bitcoin's difficulty convention against values block
// explorers show: block 100,000's bits give 16307.42.
func TestDifficulty(t *testing.T) {
	for _, tc := range []struct {
		bits uint32
		want float64
	}{
		{0x1d00ffff, 1},
		{0x1b0404cb, 16307.420938523983},
		{0x207fffff, 4.6565423739069247e-10}, // regtest's limit
		{0, 0},                               // no target, no difficulty
	} {
		if got := chain.Difficulty(tc.bits); math.Abs(got-tc.want) > 1e-9*tc.want {
			t.Errorf("Difficulty(%08x) = %g, want %g", tc.bits, got, tc.want)
		}
	}
}

// bigHex parses a signed hex number for the tables below.
func bigHex(t testing.TB, s string) *big.Int {
	t.Helper()
	n, ok := new(big.Int).SetString(s, 0)
	if !ok {
		t.Fatalf("bad number %q", s)
	}
	return n
}

// TestCompactToBig follows Bitcoin Core's arith_uint256 SetCompact/GetCompact
// tests: zero mantissas, the sign bit, exponents below 3 that shift the
// mantissa away, and the re-encoding that moves a high mantissa bit into the
// exponent. wantCompact is what BigToCompact gives back for the value.
func TestCompactToBig(t *testing.T) {
	tests := []struct {
		compact     uint32
		want        string
		wantCompact uint32
	}{
		{0x00000000, "0", 0},
		{0x00123456, "0", 0},
		{0x01003456, "0", 0},
		{0x02000056, "0", 0},
		{0x03000000, "0", 0},
		{0x04000000, "0", 0},
		// Negative zero is zero.
		{0x00923456, "0", 0},
		{0x01803456, "0", 0},
		{0x02800056, "0", 0},
		{0x03800000, "0", 0},
		{0x04800000, "0", 0},
		{0x01123456, "0x12", 0x01120000},
		{0x01fedcba, "-0x7e", 0x01fe0000},
		{0x02123456, "0x1234", 0x02123400},
		{0x03123456, "0x123456", 0x03123456},
		{0x04123456, "0x12345600", 0x04123456},
		{0x04923456, "-0x12345600", 0x04923456},
		{0x05009234, "0x92340000", 0x05009234},
		{0x20123456, "0x1234560000000000000000000000000000000000000000000000000000000000", 0x20123456},
		// 0x80 would set the sign bit as a 1-byte mantissa, so it takes two bytes.
		{0x02008000, "0x80", 0x02008000},
		// Bitcoin's difficulty-1 target, a mainnet retarget, and our networks.
		{0x1d00ffff, "0xffff" + zeros(26), 0x1d00ffff},
		{0x1b04864c, "0x04864c" + zeros(24), 0x1b04864c},
		{0x207fffff, "0x7fffff" + zeros(29), 0x207fffff},
		{0x1f00ffff, "0xffff" + zeros(28), 0x1f00ffff},
		{0x1e010000, "0x010000" + zeros(27), 0x1e010000},
	}
	for _, tt := range tests {
		want := bigHex(t, tt.want)
		if got := chain.CompactToBig(tt.compact); got.Cmp(want) != 0 {
			t.Errorf("CompactToBig(%08x) = %#x, want %#x", tt.compact, got, want)
		}
		if got := chain.BigToCompact(want); got != tt.wantCompact {
			t.Errorf("BigToCompact(%#x) = %08x, want %08x", want, got, tt.wantCompact)
		}
		// The canonical form is a fixed point of the round trip.
		if got := chain.BigToCompact(chain.CompactToBig(tt.wantCompact)); got != tt.wantCompact {
			t.Errorf("round trip of %08x gives %08x", tt.wantCompact, got)
		}
	}
}

// zeros returns n zero bytes in hex, so long targets read as mantissa + shift.
func zeros(n int) string { return strings.Repeat("00", n) }

// TestBigToCompactRounding checks that precision below the 3-byte mantissa is
// truncated, never rounded up: rounding up would make a target easier.
func TestBigToCompactRounding(t *testing.T) {
	tests := []struct {
		n    string
		want uint32
	}{
		{"0x12345678", 0x04123456},
		{"0x123456ff", 0x04123456},
		{"0xffffffff", 0x0500ffff},
		{"0x" + "ff" + zeros(31), 0x2100ff00},
		{"0x" + "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", 0x2100ffff},
	}
	for _, tt := range tests {
		n := bigHex(t, tt.n)
		got := chain.BigToCompact(n)
		if got != tt.want {
			t.Errorf("BigToCompact(%#x) = %08x, want %08x", n, got, tt.want)
		}
		if chain.CompactToBig(got).Cmp(n) > 0 {
			t.Errorf("BigToCompact(%#x) = %08x expands above the input", n, got)
		}
	}
}

func TestCalcWork(t *testing.T) {
	tests := []struct {
		bits uint32
		want string
	}{
		// Bitcoin's work for a difficulty-1 block (chainwork of block 1 minus genesis).
		{0x1d00ffff, "4295032833"},
		// The regtest target is about 2^255: two hashes per block.
		{0x207fffff, "2"},
		// 2^256 / (2^232 + 1), just under 2^24.
		{0x1e010000, "16777215"},
		// A target of zero or below can never be met and proves nothing.
		{0, "0"},
		{0x01003456, "0"},
		{0x04923456, "0"},
	}
	for _, tt := range tests {
		if got := chain.CalcWork(tt.bits); got.String() != tt.want {
			t.Errorf("CalcWork(%08x) = %s, want %s", tt.bits, got, tt.want)
		}
	}
}

// TestHashBigOrder checks that a hash is read as a little-endian number: the
// display string, which Bitcoin shows most significant byte first, parses to
// the same value as HashToBig, and BigToHash inverts it.
func TestHashBigOrder(t *testing.T) {
	for _, v := range loadHeaderVectors(t) {
		h, err := chain.ParseHash(v.HashHex)
		if err != nil {
			t.Fatal(err)
		}
		n := chain.HashToBig(h)
		if want := bigHex(t, "0x"+v.HashHex); n.Cmp(want) != 0 {
			t.Errorf("HashToBig(%s) = %#x", h, n)
		}
		if back := chain.BigToHash(n); back != h {
			t.Errorf("BigToHash(HashToBig(%s)) = %s", h, back)
		}
	}
}

// TestGenesis pins each network's genesis block: a changed encoding, merkle
// rule or parameter changes the hash and splits the network from nodes
// already running, so it must show up here first.
func TestGenesis(t *testing.T) {
	tests := []struct {
		params *chain.Params
		hash   string
	}{
		{chain.Regtest, "706e47fdfd56f5921a566ad54dc9d122909925b2dbafa223caf6e4b0de982461"},
		{chain.Devnet, "0000002ca4b9525e20616b86de621d14519c508fef132bb3ff76d6176f61a274"},
	}
	for _, tt := range tests {
		t.Run(tt.params.Name, func(t *testing.T) {
			g := tt.params.Genesis
			hash := tt.params.GenesisHash()
			if hash.String() != tt.hash {
				t.Errorf("genesis hash %s, want %s", hash, tt.hash)
			}
			target := chain.CompactToBig(g.Header.Bits)
			if chain.HashToBig(hash).Cmp(target) > 0 {
				t.Errorf("genesis hash %s does not meet its bits %08x", hash, g.Header.Bits)
			}
			if target.Cmp(tt.params.PowLimit) > 0 {
				t.Errorf("genesis bits %08x are easier than the pow limit", g.Header.Bits)
			}
			if chain.BigToCompact(tt.params.PowLimit) != tt.params.PowLimitBits {
				t.Errorf("PowLimit and PowLimitBits disagree")
			}
			if !g.Header.PrevBlock.IsZero() {
				t.Errorf("genesis has parent %s", g.Header.PrevBlock)
			}
			if root := chain.MerkleRoot(g.TxHashes()); root != g.Header.MerkleRoot {
				t.Errorf("genesis merkle root %s, transactions hash to %s", g.Header.MerkleRoot, root)
			}
			if len(g.Txs) != 1 || !g.Txs[0].IsCoinbase() || g.Txs[0].Height != 0 || g.Txs[0].Amount != tt.params.SubsidyAt(0) {
				t.Errorf("genesis transactions %+v, want one coinbase at height 0 paying the faucet allocation", g.Txs)
			}
			if p, err := chain.NetworkByName(tt.params.Name); err != nil || p != tt.params {
				t.Errorf("NetworkByName(%q) = %v, %v", tt.params.Name, p, err)
			}
		})
	}
}
