package chain

import (
	"crypto/ed25519"
	"crypto/sha256"
)

// FaucetSeedPhrase is hashed with SHA-256 into the ed25519 seed of the faucet
// key. The key is public on purpose: regtest and devnet allocate coins to it in
// genesis so tests and demos have money to send from the first block on. It
// must never hold anything of value.
const FaucetSeedPhrase = "hashforge faucet"

// FaucetAlloc is what genesis pays the faucet on every network.
const FaucetAlloc = 1_000_000 * Coin

// FaucetKey returns the well-known faucet key.
func FaucetKey() ed25519.PrivateKey {
	seed := sha256.Sum256([]byte(FaucetSeedPhrase))
	return ed25519.NewKeyFromSeed(seed[:])
}

// FaucetAddress is the address genesis pays FaucetAlloc to.
func FaucetAddress() Address { return AddressOf(FaucetKey().Public().(ed25519.PublicKey)) }
