package wire

import (
	"math/big"

	"github.com/hashforge/hashforge/chain"
)

// TipInfo is a node's main-chain tip as peers exchange it: in version, ping
// and pong, so every peer learns every other's tip without asking.
type TipInfo struct {
	Height uint64
	Hash   chain.Hash
	Work   [32]byte // cumulative work, big-endian
}

// NewTipInfo is t as it travels.
func NewTipInfo(t chain.Tip) TipInfo {
	ti := TipInfo{Height: t.Height, Hash: t.Hash}
	t.Work.FillBytes(ti.Work[:])
	return ti
}

// WorkInt returns the cumulative work as a number.
func (t TipInfo) WorkInt() *big.Int { return new(big.Int).SetBytes(t.Work[:]) }
