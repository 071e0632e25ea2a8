package chain_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/chain/chaintest"
)

func TestTxJSONRoundTrip(t *testing.T) {
	alice, _ := chaintest.NewKey("alice")
	_, bob := chaintest.NewKey("bob")
	txs := map[string]*chain.Tx{
		"transfer":    chaintest.Transfer(alice, bob, 12*chain.Coin, 1000, 7, nil),
		"text memo":   chaintest.Transfer(alice, bob, 1, 1000, 0, []byte("hello, chain")),
		"binary memo": chaintest.Transfer(alice, bob, 1, 1000, 0, []byte{0xff, 0x00, 0xfe}),
		"coinbase":    chain.NewCoinbase(42, bob, 50*chain.Coin, 1<<63),
	}
	for name, tx := range txs {
		t.Run(name, func(t *testing.T) {
			b, err := json.Marshal(tx)
			if err != nil {
				t.Fatal(err)
			}
			var back chain.Tx
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatalf("decode %s: %v", b, err)
			}
			if back.Hash() != tx.Hash() {
				t.Errorf("round trip of %s changed the transaction", b)
			}
			if !strings.Contains(string(b), `"txid":"`+tx.Hash().String()+`"`) {
				t.Errorf("%s does not carry its txid", b)
			}
		})
	}
}

func TestTxJSONErrors(t *testing.T) {
	alice, _ := chaintest.NewKey("alice")
	_, bob := chaintest.NewKey("bob")
	valid, _ := json.Marshal(chaintest.Transfer(alice, bob, 1, 1000, 0, nil))
	var fields map[string]any
	json.Unmarshal(valid, &fields)
	with := func(key string, v any) string {
		m := map[string]any{}
		for k, x := range fields {
			m[k] = x
		}
		if v == nil {
			delete(m, key)
		} else {
			m[key] = v
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	tests := []struct {
		name, in string
		code     chain.ErrorCode // "" for a plain decoding error
	}{
		{"not an object", `[1]`, ""},
		{"unknown field", with("colour", "red"), ""},
		{"unknown kind", with("kind", "gift"), ""},
		{"amount missing", with("amount", nil), ""},
		{"amount negative", with("amount", -1), ""},
		{"amount fractional", with("amount", 1.5), ""},
		{"amount overflows 64 bits", strings.Replace(with("amount", 1), `"amount":1`, `"amount":18446744073709551616`, 1), chain.ErrBadAmount},
		{"short signature", with("signature", "abcd"), ""},
		{"public key not hex", with("from", strings.Repeat("zz", 32)), ""},
		{"wrong txid", with("txid", strings.Repeat("00", 32)), ""},
		{"memo and memo_hex", strings.Replace(with("memo_hex", "00"), "{", `{"memo":"x",`, 1), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tx chain.Tx
			err := json.Unmarshal([]byte(tt.in), &tx)
			if err == nil {
				t.Fatalf("decoded %s", tt.in)
			}
			if got := chain.Code(err); got != tt.code {
				t.Errorf("code %q, want %q (%v)", got, tt.code, err)
			}
		})
	}
}

// FuzzTxJSON: whatever decodes encodes back to the same transaction.
func FuzzTxJSON(f *testing.F) {
	alice, _ := chaintest.NewKey("alice")
	_, bob := chaintest.NewKey("bob")
	for _, tx := range []*chain.Tx{chaintest.Transfer(alice, bob, 1, 2, 3, []byte("memo")), chain.NewCoinbase(1, bob, 5, 6)} {
		b, _ := json.Marshal(tx)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var tx chain.Tx
		if json.Unmarshal(b, &tx) != nil {
			return
		}
		out, err := json.Marshal(&tx)
		if err != nil {
			t.Fatal(err)
		}
		var back chain.Tx
		if err := json.Unmarshal(out, &back); err != nil || back.Hash() != tx.Hash() {
			t.Fatalf("%s does not decode back (%v)", out, err)
		}
	})
}
