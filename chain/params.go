package chain

import (
	"fmt"
	"math/big"
	"time"
)

// Params are a network's consensus rules. They are fixed by the network, never
// by a node's flag: two nodes that disagree on them are on different networks.
type Params struct {
	Name  string
	Magic [4]byte // first bytes of every P2P frame; also signed into transfers

	// Default ports for a node on this network.
	P2PPort     uint16
	HTTPPort    uint16
	StratumPort uint16

	PowLimit     *big.Int // easiest target allowed
	PowLimitBits uint32

	// TargetSpacing is the block time difficulty aims for. ASERTHalfLife is how
	// long a schedule deviation takes to halve or double the target; zero means
	// difficulty never changes (regtest).
	TargetSpacing time.Duration
	ASERTHalfLife time.Duration

	Subsidy         uint64 // block reward at height 1, in units
	HalvingInterval uint64 // blocks between halvings of the subsidy

	// MaxFutureTime bounds how far ahead of the local clock a block's time may be.
	MaxFutureTime time.Duration

	Genesis *Block
}

// SubsidyAt returns the block reward at height. Genesis pays the faucet
// allocation instead.
func (p *Params) SubsidyAt(height uint64) uint64 {
	if height == 0 {
		return FaucetAlloc
	}
	halvings := height / p.HalvingInterval
	if halvings >= 64 {
		return 0
	}
	return p.Subsidy >> halvings
}

// GenesisHash returns the hash of the network's first block.
func (p *Params) GenesisHash() Hash { return p.Genesis.Hash() }

// genesisBlock builds a network's first block. Its coinbase pays the faucet
// allocation to the well-known faucet key.
func genesisBlock(timestamp, bits, nonce uint32) *Block {
	cb := NewCoinbase(0, FaucetAddress(), FaucetAlloc, 0)
	return &Block{
		Header: Header{
			Version:    1,
			MerkleRoot: MerkleRoot([]Hash{cb.Hash()}),
			Timestamp:  timestamp,
			Bits:       bits,
			Nonce:      nonce,
		},
		Txs: []*Tx{cb},
	}
}

// Regtest is for tests: every few hashes solve a block and difficulty never moves.
var Regtest = &Params{
	Name:            "regtest",
	Magic:           [4]byte{0xfa, 0xbf, 0xb5, 0xda},
	P2PPort:         18999,
	HTTPPort:        18001,
	StratumPort:     13333,
	PowLimit:        CompactToBig(0x207fffff),
	PowLimitBits:    0x207fffff,
	TargetSpacing:   time.Second,
	Subsidy:         50 * Coin,
	HalvingInterval: 150,
	MaxFutureTime:   2 * time.Hour,
	Genesis:         genesisBlock(1793491200, 0x207fffff, regtestGenesisNonce),
}

// Devnet is the default network: its genesis difficulty takes two CPU cores a
// few seconds, and ASERT steers every block toward a 10 s block time.
var Devnet = &Params{
	Name:            "devnet",
	Magic:           [4]byte{0xd1, 0xe5, 0x0c, 0x8a},
	P2PPort:         8999,
	HTTPPort:        8001,
	StratumPort:     3333,
	PowLimit:        CompactToBig(0x1f00ffff),
	PowLimitBits:    0x1f00ffff,
	TargetSpacing:   10 * time.Second,
	ASERTHalfLife:   5 * time.Minute,
	Subsidy:         50 * Coin,
	HalvingInterval: 210_000,
	MaxFutureTime:   2 * time.Hour,
	Genesis:         genesisBlock(1793491200, 0x1e010000, devnetGenesisNonce),
}

// The nonces that solve each genesis header (found once, checked by tests).
const (
	regtestGenesisNonce = 0
	devnetGenesisNonce  = 6059217
)

// Networks lists the networks by name.
var Networks = map[string]*Params{Regtest.Name: Regtest, Devnet.Name: Devnet}

// NetworkByName returns a network's parameters.
func NetworkByName(name string) (*Params, error) {
	if p, ok := Networks[name]; ok {
		return p, nil
	}
	return nil, fmt.Errorf("unknown network %q (want regtest or devnet)", name)
}
