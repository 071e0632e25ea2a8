package chain_test

import (
	"crypto/ed25519"
	"encoding/hex"
	"testing"

	"github.com/hashforge/hashforge/chain"
)

// TestFaucet pins the faucet key the README documents: changing it changes
// every genesis block.
func TestFaucet(t *testing.T) {
	key := chain.FaucetKey()
	if got, want := hex.EncodeToString(key.Seed()), "9bb49dfe6a3245eedace7e6f92648893c62e0f3c2dd8b4d43047d1b247b47315"; got != want {
		t.Errorf("faucet seed %s, want %s", got, want)
	}
	if got, want := chain.FaucetAddress().String(), "fc737843699d4b9035cb4d454588a6eb7714bc07"; got != want {
		t.Errorf("faucet address %s, want %s", got, want)
	}
	if chain.AddressOf(key.Public().(ed25519.PublicKey)) != chain.FaucetAddress() {
		t.Error("faucet address is not the address of the faucet key")
	}
	for _, p := range []*chain.Params{chain.Regtest, chain.Devnet} {
		cb := p.Genesis.Txs[0]
		if cb.To != chain.FaucetAddress() || cb.Amount != chain.FaucetAlloc {
			t.Errorf("%s genesis pays %d to %s, want %d to the faucet", p.Name, cb.Amount, cb.To, chain.FaucetAlloc)
		}
	}
}
