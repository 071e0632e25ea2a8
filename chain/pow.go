package chain

import "math/big"

// CompactToBig expands a compact target ("bits") the way Bitcoin does: a
// base-256 exponent in the top byte, a 23-bit mantissa and a sign bit.
func CompactToBig(compact uint32) *big.Int {
	mantissa := compact & 0x007fffff
	negative := compact&0x00800000 != 0
	exponent := uint(compact >> 24)

	var n *big.Int
	if exponent <= 3 {
		n = big.NewInt(int64(mantissa >> (8 * (3 - exponent))))
	} else {
		n = big.NewInt(int64(mantissa))
		n.Lsh(n, 8*(exponent-3))
	}
	if negative {
		n.Neg(n)
	}
	return n
}

// BigToCompact is the inverse of CompactToBig; precision below the 3-byte
// mantissa is lost, exactly as in Bitcoin.
func BigToCompact(n *big.Int) uint32 {
	if n.Sign() == 0 {
		return 0
	}
	var mantissa uint32
	exponent := uint(len(n.Bytes()))
	if exponent <= 3 {
		mantissa = uint32(n.Bits()[0])
		mantissa <<= 8 * (3 - exponent)
	} else {
		t := new(big.Int).Abs(n)
		mantissa = uint32(t.Rsh(t, 8*(exponent-3)).Bits()[0])
	}
	// The sign bit is part of the mantissa; move it into the exponent.
	if mantissa&0x00800000 != 0 {
		mantissa >>= 8
		exponent++
	}
	compact := uint32(exponent<<24) | mantissa
	if n.Sign() < 0 {
		compact |= 0x00800000
	}
	return compact
}

// HashToBig reads a hash as the little-endian 256-bit number that is compared
// against a target.
func HashToBig(h Hash) *big.Int {
	var be Hash
	for i := range h {
		be[i] = h[HashSize-1-i]
	}
	return new(big.Int).SetBytes(be[:])
}

// BigToHash writes a non-negative number below 2^256 as a little-endian hash,
// the form the hasher compares digests against.
func BigToHash(n *big.Int) Hash {
	var be, h Hash
	n.FillBytes(be[:])
	for i := range be {
		h[i] = be[HashSize-1-i]
	}
	return h
}

var oneLsh256 = new(big.Int).Lsh(big.NewInt(1), 256)

// CalcWork returns the expected number of hashes to meet bits:
// 2^256 / (target + 1). An invalid target has no work.
func CalcWork(bits uint32) *big.Int {
	target := CompactToBig(bits)
	if target.Sign() <= 0 {
		return new(big.Int)
	}
	d := new(big.Int).Add(target, big.NewInt(1))
	return d.Div(oneLsh256, d)
}

// checkProofOfWork verifies that bits encode a positive target no easier than
// powLimit and that hash meets it.
func checkProofOfWork(hash Hash, bits uint32, powLimit *big.Int) error {
	target := CompactToBig(bits)
	if target.Sign() <= 0 || target.Cmp(powLimit) > 0 {
		return ruleErrorf(ErrBadBits, "target from bits %08x is outside (0, pow limit]", bits)
	}
	if HashToBig(hash).Cmp(target) > 0 {
		return ruleErrorf(ErrBadPoW, "block hash %s is above target of bits %08x", hash, bits)
	}
	return nil
}

// diff1Target is the target of difficulty 1, Bitcoin's first target:
// 0xFFFF << 208.
var diff1Target = CompactToBig(0x1d00ffff)

// Diff1Target returns the target of difficulty 1, which pools' share
// difficulty divides too (a copy: the caller may change it).
func Diff1Target() *big.Int { return new(big.Int).Set(diff1Target) }

// Difficulty returns how many times harder bits are to meet than difficulty 1,
// Bitcoin's convention; easy test networks have difficulties far below 1.
func Difficulty(bits uint32) float64 { return TargetDifficulty(CompactToBig(bits)) }

// TargetDifficulty returns how many times harder target is to meet than
// difficulty 1's; a target of 0 or less has none and gives 0.
func TargetDifficulty(target *big.Int) float64 {
	if target.Sign() <= 0 {
		return 0
	}
	d, _ := new(big.Rat).SetFrac(diff1Target, target).Float64()
	return d
}
