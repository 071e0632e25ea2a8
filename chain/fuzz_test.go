package chain_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/hashforge/hashforge/chain"
)

// The decoders read bytes from peers and from disk. Every encoding is
// canonical, so beyond never panicking each decoder must give back exactly
// the bytes it accepted: two encodings of one value would give a block two
// hashes' worth of bytes, or let a peer relay a block we would store
// differently. Seed corpora built from real blocks live in testdata/fuzz.

// fuzzCanonical fuzzes decode with the property that whatever it accepts,
// encode writes back byte for byte.
func fuzzCanonical[T any](f *testing.F, decode func([]byte) (T, error), encode func(T) []byte) {
	f.Fuzz(func(t *testing.T, in []byte) {
		v, err := decode(in)
		if err != nil {
			return
		}
		if out := encode(v); !bytes.Equal(out, in) {
			t.Fatalf("decoded %+v re-encodes to\n%x\nnot the input\n%x", v, out, in)
		}
	})
}

func FuzzDecodeHeader(f *testing.F) {
	fuzzCanonical(f, chain.DecodeHeader, headerBytes)
}

func FuzzDecodeBlock(f *testing.F) {
	fuzzCanonical(f, chain.DecodeBlock, (*chain.Block).Bytes)
}

func FuzzDecodeTx(f *testing.F) {
	fuzzCanonical(f, chain.DecodeTx, (*chain.Tx).Bytes)
}

func FuzzDecodeChanges(f *testing.F) {
	fuzzCanonical(f, chain.DecodeChanges, chain.EncodeChanges)
}

func FuzzDecodeIndexEntry(f *testing.F) {
	fuzzCanonical(f, chain.DecodeIndexEntry, func(e chain.IndexEntry) []byte { return e.Bytes() })
}

func FuzzDecodeAccount(f *testing.F) {
	fuzzCanonical(f, chain.DecodeAccount, chain.Account.Bytes)
}

// FuzzParseHash: hex digits are case-insensitive on input and lower case on
// output, so a parsed hash prints as the lower-cased input and parses back.
func FuzzParseHash(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		h, err := chain.ParseHash(s)
		if err != nil {
			return
		}
		if h.String() != strings.ToLower(s) {
			t.Fatalf("ParseHash(%q) prints as %s", s, h)
		}
		if back, err := chain.ParseHash(h.String()); err != nil || back != h {
			t.Fatalf("ParseHash(%s) = %s, %v", h, back, err)
		}
	})
}
