package chain

import (
	"crypto/ed25519"
	"testing"
)

// A cached txid skips the signature check, a failed check is not cached,
// and the cache holds its last max txids.
func TestSigCache(t *testing.T) {
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	tx := &Tx{Kind: TxTransfer, Amount: 1, Fee: 1}
	copy(tx.From[:], key.Public().(ed25519.PublicKey))
	tx.Sign(key, Regtest.Magic)
	forged := *tx
	forged.Signature[0] ^= 1

	c := NewSigCache(2)
	if err := forged.CheckSanity(Regtest.Magic, c); Code(err) != ErrBadSignature || c.has(forged.Hash()) {
		t.Fatalf("forged signature: %v, cached %t; want refused and not cached", err, c.has(forged.Hash()))
	}
	if err := tx.CheckSanity(Regtest.Magic, c); err != nil || !c.has(tx.Hash()) {
		t.Fatalf("good signature: %v, cached %t; want accepted and cached", err, c.has(tx.Hash()))
	}
	// What the cache holds is not checked again: a txid it holds passes
	// however its signature reads (a txid covers the signature, so only a
	// cache told a lie can hold one that fails).
	c.add(forged.Hash())
	if err := forged.CheckSanity(Regtest.Magic, c); err != nil {
		t.Errorf("cached txid: %v, want the check skipped", err)
	}
	c.add(Hash{1}) // a third id evicts the first
	if c.has(tx.Hash()) || !c.has(forged.Hash()) || !c.has(Hash{1}) {
		t.Errorf("after a third id in a cache of 2: want the first evicted and the last two kept")
	}
}
