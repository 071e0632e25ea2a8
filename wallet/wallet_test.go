package wallet_test

import (
	"bytes"
	"crypto/ed25519"
	"testing"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/wallet"
)

func TestTransfer(t *testing.T) {
	key := chain.FaucetKey()
	to := chain.AddressOf(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize)).Public().(ed25519.PublicKey))
	tests := []struct {
		name               string
		p, other           *chain.Params
		amount, fee, nonce uint64
		memo               []byte
	}{
		{"regtest", chain.Regtest, chain.Devnet, 5 * chain.Coin, 1000, 0, nil},
		{"devnet", chain.Devnet, chain.Regtest, 1, 0, 41, []byte("rent")},
		{"longest memo, binary", chain.Regtest, chain.Devnet, chain.MaxMoney - 1, 1, 1 << 40, bytes.Repeat([]byte{0xff}, chain.MaxMemo)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tx := wallet.Transfer(key, to, tt.amount, tt.fee, tt.nonce, tt.memo, tt.p)
			if tx.Kind != chain.TxTransfer || tx.Sender() != chain.FaucetAddress() || tx.To != to ||
				tx.Amount != tt.amount || tx.Fee != tt.fee || tx.Nonce != tt.nonce || !bytes.Equal(tx.Memo, tt.memo) {
				t.Errorf("transfer %+v: want one from the faucet to %s of %d, fee %d, nonce %d, memo %q",
					tx, to, tt.amount, tt.fee, tt.nonce, tt.memo)
			}
			if err := tx.CheckSanity(tt.p.Magic, nil); err != nil {
				t.Errorf("on %s: %v", tt.p.Name, err)
			}
			// The signature covers the network: a transfer replayed on
			// another network must fail there.
			if err := tx.CheckSanity(tt.other.Magic, nil); chain.Code(err) != chain.ErrBadSignature {
				t.Errorf("on %s: %v, want %s", tt.other.Name, err, chain.ErrBadSignature)
			}
			// What the client posts decodes to the transaction signed.
			b, err := tx.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			var back chain.Tx
			if err := back.UnmarshalJSON(b); err != nil || back.Hash() != tx.Hash() {
				t.Errorf("JSON round trip: %v, txid %s, want %s", err, back.Hash(), tx.Hash())
			}
			// A Signer of the key signs the same transfer (ed25519 is
			// deterministic) without showing the key.
			s := wallet.NewSigner(key, tt.p)
			if s.Address() != chain.FaucetAddress() {
				t.Errorf("signer address %s, want the faucet's %s", s.Address(), chain.FaucetAddress())
			}
			if got := s.Transfer(to, tt.amount, tt.fee, tt.nonce, tt.memo); got.Hash() != tx.Hash() {
				t.Errorf("signer's transfer %s, want %s", got.Hash(), tx.Hash())
			}
		})
	}
}
