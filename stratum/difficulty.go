package stratum

import (
	"encoding/json"
	"math"
	"math/big"

	"github.com/hashforge/hashforge/chain"
)

// maxTarget is the largest 256-bit number, the target every hash meets.
var maxTarget = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))

// ParseDifficulty reads the difficulty of mining.set_difficulty or
// mining.suggest_difficulty. Pools send it as a JSON integer or float, and
// some as a string holding one, so all three are read; the value must be a
// finite number above zero. Difficulties are float64 as in every miner: an
// integer beyond 2^53 is rounded, far below what a share's target resolves.
func ParseDifficulty(raw json.RawMessage) (float64, error) {
	// A json.Number accepts a JSON number, or a string holding exactly a
	// JSON number (no "Inf", "NaN", hex or spaces), and refuses the rest.
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, badParam("difficulty", "%v", err)
	}
	d, err := n.Float64()
	if err != nil {
		return 0, badParam("difficulty", "%q: %v", n, err)
	}
	if !(d > 0) || math.IsInf(d, 0) {
		return 0, badParam("difficulty", "%s: want a number above 0", n)
	}
	return d, nil
}

// DifficultyTarget returns the share target of difficulty d: difficulty 1's
// target over d, rounded down. Difficulty 1 is chain.Diff1Target, 0xFFFF <<
// 208, the target of Bitcoin's compact bits 0x1d00ffff, not 2^224: a pool
// and its miners must divide the same number, or shares near the target are
// accepted by one and refused by the other. The division is exact (d as a
// float64 is an exact rational), so that every share a miner finds under
// its own rounding of the same division is under this target too: minerd's
// coarser division gives a target at most this one, and its shares are
// never refused for rounding. A difficulty whose target is 0 (no hash
// meets it) or above 2^256-1 is refused.
func DifficultyTarget(d float64) (*big.Int, error) {
	if !(d > 0) || math.IsInf(d, 0) {
		return nil, badParam("difficulty", "%v: want a finite number above 0", d)
	}
	q := new(big.Rat).SetInt(chain.Diff1Target())
	q.Quo(q, new(big.Rat).SetFloat64(d))
	t := new(big.Int).Quo(q.Num(), q.Denom())
	if t.Sign() == 0 {
		return nil, badParam("difficulty", "%v: so high that no hash meets its target", d)
	}
	if t.Cmp(maxTarget) > 0 {
		return nil, badParam("difficulty", "%v: so low that its target is above 2^256-1", d)
	}
	return t, nil
}
