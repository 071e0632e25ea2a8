package chain_test

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"strings"
	"testing"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/chain/chaintest"
)

// decodeAny adapts a decoder to the shape the round-trip table holds.
func decodeAny[T any](decode func([]byte) (T, error)) func([]byte) (any, error) {
	return func(b []byte) (any, error) { return decode(b) }
}

// sampleTransfer is a signed transfer with a memo, the richest transaction form.
func sampleTransfer() *chain.Tx {
	key, _ := chaintest.NewKey("alice")
	_, bob := chaintest.NewKey("bob")
	return chaintest.Transfer(key, bob, 12*chain.Coin, 3000, 7, []byte("rent for march"))
}

// sampleBlock is a regtest block carrying a coinbase and two transfers.
func sampleBlock(t testing.TB) *chain.Block {
	alice, _ := chaintest.NewKey("alice")
	_, bob := chaintest.NewKey("bob")
	txs := []*chain.Tx{sampleTransfer(), chaintest.Transfer(alice, bob, 1, 0, 8, nil)}
	return chaintest.Mine(t, chain.Regtest.Genesis, bob, txs...)
}

func TestEncodingRoundTrip(t *testing.T) {
	_, bob := chaintest.NewKey("bob")
	acc := chain.Account{Balance: chain.MaxMoney, Nonce: 1<<64 - 1}
	changes := []chain.AccountChange{
		{Address: bob, Old: chain.Account{}, New: chain.Account{Balance: 50 * chain.Coin}},
		{Address: chain.Address{1}, Old: acc, New: chain.Account{Balance: 1, Nonce: 2}},
	}
	entry := chain.IndexEntry{Header: chain.Devnet.Genesis.Header, Height: 1 << 40, Status: chain.StatusInvalid}
	coinbase := chain.NewCoinbase(1<<33, bob, 50*chain.Coin+9, 0xdeadbeefcafe)
	noMemo := sampleTransfer()
	noMemo.Memo = nil
	longMemo := sampleTransfer()
	// 300 bytes: the memo length needs a 3-byte varint, and the decoder leaves
	// the MaxMemo rule to validation.
	longMemo.Memo = bytes.Repeat([]byte{'m'}, 300)
	block := sampleBlock(t)

	tests := []struct {
		name   string
		value  any
		enc    []byte
		decode func([]byte) (any, error)
	}{
		{"account", acc, acc.Bytes(), decodeAny(chain.DecodeAccount)},
		{"zero account", chain.Account{}, chain.Account{}.Bytes(), decodeAny(chain.DecodeAccount)},
		{"changes", changes, chain.EncodeChanges(changes), decodeAny(chain.DecodeChanges)},
		{"no changes", []chain.AccountChange{}, chain.EncodeChanges(nil), decodeAny(chain.DecodeChanges)},
		{"index entry", entry, entry.Bytes(), decodeAny(chain.DecodeIndexEntry)},
		{"header", block.Header, headerBytes(block.Header), decodeAny(chain.DecodeHeader)},
		{"coinbase", coinbase, coinbase.Bytes(), decodeAny(chain.DecodeTx)},
		{"transfer with memo", sampleTransfer(), sampleTransfer().Bytes(), decodeAny(chain.DecodeTx)},
		{"transfer without memo", noMemo, noMemo.Bytes(), decodeAny(chain.DecodeTx)},
		{"transfer with long memo", longMemo, longMemo.Bytes(), decodeAny(chain.DecodeTx)},
		{"block", block, block.Bytes(), decodeAny(chain.DecodeBlock)},
		{"regtest genesis", chain.Regtest.Genesis, chain.Regtest.Genesis.Bytes(), decodeAny(chain.DecodeBlock)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.decode(tt.enc)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !reflect.DeepEqual(got, tt.value) {
				t.Errorf("decoded %+v\nwant %+v", got, tt.value)
			}
		})
	}
}

func headerBytes(h chain.Header) []byte {
	b := h.Bytes()
	return b[:]
}

// TestEncodingSizes pins the fixed layouts other code depends on: Stratum
// splits the coinbase at fixed offsets, and the store reads fixed records.
func TestEncodingSizes(t *testing.T) {
	tx := sampleTransfer()
	tests := []struct {
		name string
		enc  []byte
		want int
	}{
		{"header", headerBytes(chain.Header{}), chain.HeaderSize},
		{"coinbase", chain.NewCoinbase(1, chain.Address{}, 1, 1).Bytes(), 1 + 8 + 8 + chain.AddressSize + 8},
		{"transfer", tx.Bytes(), 1 + 32 + chain.AddressSize + 8 + 8 + 8 + 1 + len(tx.Memo) + 64},
		{"account", chain.Account{}.Bytes(), 16},
		{"index entry", (&chain.IndexEntry{}).Bytes(), chain.HeaderSize + 8 + 1},
		{"one change", chain.EncodeChanges(make([]chain.AccountChange, 1)), 1 + chain.AddressSize + 32},
	}
	for _, tt := range tests {
		if len(tt.enc) != tt.want {
			t.Errorf("%s: %d bytes, want %d", tt.name, len(tt.enc), tt.want)
		}
	}
}

func TestCoinbaseExtraNonceOffset(t *testing.T) {
	const extra = 0x0807060504030201
	cb := chain.NewCoinbase(5, chain.Address{0xaa}, 50*chain.Coin, extra)
	enc := cb.Bytes()
	field := enc[chain.CoinbaseExtraNonceOffset : chain.CoinbaseExtraNonceOffset+8]
	if got := binary.LittleEndian.Uint64(field); got != extra {
		t.Fatalf("bytes at the offset read %#x, want the extranonce %#x", got, uint64(extra))
	}
	// A Stratum miner writes its extranonce there without decoding the
	// coinbase; only the extranonce may change.
	copy(field, []byte{0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7})
	got, err := chain.DecodeTx(enc)
	if err != nil {
		t.Fatal(err)
	}
	want := *cb
	want.ExtraNonce = 0xf7f6f5f4f3f2f1f0
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("after rewriting the extranonce: %+v, want %+v", *got, want)
	}
}

// TestDecodeRejects checks that malformed encodings fail rather than decode
// to something else: the encodings are canonical, so a block's hash and its
// bytes stay in one-to-one correspondence.
func TestDecodeRejects(t *testing.T) {
	tx := sampleTransfer().Bytes()
	blk := sampleBlock(t).Bytes()
	// memoAt is where a transfer's memo length varint sits.
	const memoAt = 1 + 32 + chain.AddressSize + 8 + 8 + 8
	tests := []struct {
		name    string
		decode  func([]byte) error
		in      []byte
		wantErr string
	}{
		{"tx trailing byte", decodeTx, append(clone(tx), 0), "trailing"},
		{"tx unknown kind", decodeTx, append([]byte{2}, tx[1:]...), "unknown transaction kind"},
		{"tx empty", decodeTx, nil, "unexpected EOF"},
		// Length 14 written as 0xfd 0x0e 0x00: the same memo, a different txid.
		{"tx non-canonical memo length", decodeTx, splice(tx, memoAt, 1, []byte{0xfd, 14, 0}), "non-canonical"},
		{"tx non-canonical 4-byte varint", decodeTx, splice(tx, memoAt, 1, []byte{0xfe, 14, 0, 0, 0}), "non-canonical"},
		{"tx memo length past the end", decodeTx, splice(tx, memoAt, 1, []byte{0xfd, 0xff, 0xff}), "unexpected EOF"},
		{"coinbase trailing byte", decodeTx, append(chain.NewCoinbase(1, chain.Address{}, 1, 0).Bytes(), 0), "trailing"},
		{"block trailing byte", decodeBlock, append(clone(blk), 0), "trailing"},
		{"block non-canonical tx count", decodeBlock, splice(blk, chain.HeaderSize, 1, []byte{0xfd, 3, 0}), "non-canonical"},
		{"block tx count over limit", decodeBlock, splice(blk, chain.HeaderSize, 1, []byte{0xfe, 0, 0, 1, 0}), "exceeds limit"},
		{"block too big", decodeBlock, make([]byte, chain.MaxBlockSize+1), "exceeds"},
		{"block header only", decodeBlock, blk[:chain.HeaderSize], "unexpected EOF"},
		{"header short", decodeHeader, blk[:chain.HeaderSize-1], "want 80 bytes"},
		{"header long", decodeHeader, blk[:chain.HeaderSize+1], "want 80 bytes"},
		{"changes count over length", decodeChanges, []byte{2}, "exceeds limit"},
		{"changes trailing byte", decodeChanges, []byte{0, 0}, "trailing"},
		{"index entry short", decodeIndexEntry, make([]byte, 88), "want 89 bytes"},
		{"account short", decodeAccount, make([]byte, 15), "want 16 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.decode(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestDecodeTruncated checks every proper prefix of real encodings: none may
// decode, or a cut-off message would be read as a different, valid one.
func TestDecodeTruncated(t *testing.T) {
	tests := []struct {
		name   string
		decode func([]byte) error
		enc    []byte
	}{
		{"transfer", decodeTx, sampleTransfer().Bytes()},
		{"coinbase", decodeTx, chain.NewCoinbase(3, chain.Address{7}, 5, 9).Bytes()},
		{"block", decodeBlock, sampleBlock(t).Bytes()},
		{"changes", decodeChanges, chain.EncodeChanges(make([]chain.AccountChange, 2))},
	}
	for _, tt := range tests {
		if err := tt.decode(tt.enc); err != nil {
			t.Fatalf("%s: whole encoding fails: %v", tt.name, err)
		}
		for n := range len(tt.enc) {
			if tt.decode(tt.enc[:n]) == nil {
				t.Errorf("%s: prefix of %d of %d bytes decodes", tt.name, n, len(tt.enc))
			}
		}
	}
}

// The error-only decoders the rejection tables call.
func decodeTx(b []byte) error         { _, err := chain.DecodeTx(b); return err }
func decodeBlock(b []byte) error      { _, err := chain.DecodeBlock(b); return err }
func decodeHeader(b []byte) error     { _, err := chain.DecodeHeader(b); return err }
func decodeChanges(b []byte) error    { _, err := chain.DecodeChanges(b); return err }
func decodeIndexEntry(b []byte) error { _, err := chain.DecodeIndexEntry(b); return err }
func decodeAccount(b []byte) error    { _, err := chain.DecodeAccount(b); return err }

func clone(b []byte) []byte { return append([]byte(nil), b...) }

// splice returns a copy of b with the n bytes at off replaced by with.
func splice(b []byte, off, n int, with []byte) []byte {
	out := append(clone(b[:off]), with...)
	return append(out, b[off+n:]...)
}

func TestParseHash(t *testing.T) {
	const s = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"
	h, err := chain.ParseHash(s)
	if err != nil {
		t.Fatal(err)
	}
	// Display order is reversed: the leading zeros are the last bytes.
	if h[31] != 0 || h[0] != 0x6f {
		t.Errorf("ParseHash stored display order: %x", h[:])
	}
	if h.String() != s {
		t.Errorf("String() = %s, want %s", h, s)
	}
	text, _ := h.MarshalText()
	var back chain.Hash
	if err := back.UnmarshalText(text); err != nil || back != h {
		t.Errorf("text round trip gives %s, %v", back, err)
	}
	for _, bad := range []string{"", s[:63], s + "0", "x" + s[1:]} {
		if _, err := chain.ParseHash(bad); err == nil {
			t.Errorf("ParseHash(%q) succeeds", bad)
		}
	}
}

// Block.Size is the length of the encoding, the transaction count's varint
// included, without encoding the block.
func TestBlockSize(t *testing.T) {
	many := make([]*chain.Tx, 300) // a three-byte count
	for i := range many {
		many[i] = sampleTransfer()
	}
	tests := []struct {
		name string
		txs  []*chain.Tx
	}{
		{"no transactions", nil},
		{"coinbase only", []*chain.Tx{chain.NewCoinbase(1, chain.Address{}, 1, 1)}},
		{"coinbase and transfer", []*chain.Tx{chain.NewCoinbase(1, chain.Address{}, 1, 1), sampleTransfer()}},
		{"300 transfers", many},
	}
	for _, tt := range tests {
		b := &chain.Block{Txs: tt.txs}
		if got, want := b.Size(), len(b.Bytes()); got != want {
			t.Errorf("%s: Size %d, encoding %d bytes", tt.name, got, want)
		}
	}
}
