// Package stratum speaks Stratum v1, the protocol between a pool and its
// miners. job.go, submit.go, params.go and difficulty.go hold the pure part
// that both ends need: the job of mining.notify, the coinbase, merkle root
// and header a share stands for, the params of mining.submit, and
// difficulty as pools mean it.
//
// Server is the pool's end, so that standard sha256d miners mine for the
// node: server.go accepts connections within limits and broadcasts jobs,
// session.go runs one connection, methods.go and share.go answer its
// requests, rpc.go frames them, jobs.go turns block templates into jobs,
// vardiff.go steers share difficulty and stats.go counts.
//
// Byte orders follow what standard miners (cpuminer/minerd 2.5.1, cgminer)
// do, not what would be tidy: a header built here from a job and a share
// hashes to the same block hash as the one those miners found.
package stratum

import (
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/hashforge/hashforge/chain"
)

// maxBranch bounds a merkle branch: 32 levels is a block of 2^32
// transactions, far beyond any block, and keeps a hostile job's work small.
const maxBranch = 32

// Job is the work of one mining.notify. The hashes are kept in the byte order
// of the header and of SHA-256d, whatever order the wire uses.
type Job struct {
	ID string
	// PrevHash is the previous block hash as the header holds it.
	PrevHash chain.Hash
	// Coinb1 and Coinb2 are the coinbase transaction around the extranonces.
	Coinb1, Coinb2 []byte
	// Branch is the merkle branch from the coinbase to the root: the sibling
	// hash at each level, as computed (not display order).
	Branch []chain.Hash
	// Version, Bits and Time are numbers: the wire writes each as 8 hex
	// digits big-endian, the header holds them little-endian.
	Version uint32
	Bits    uint32
	Time    uint32
	// Clean tells the miner to drop the work of every earlier job.
	Clean bool
}

// swapWords byte-swaps each 4-byte word of a hash. Stratum's prevhash is the
// header's bytes read as eight little-endian 32-bit words and written each as
// big-endian hex: the header's order with each word swapped. Swapping twice
// gives back the input, so one function converts both ways.
func swapWords(h chain.Hash) chain.Hash {
	var s chain.Hash
	for i := 0; i < chain.HashSize; i += 4 {
		s[i], s[i+1], s[i+2], s[i+3] = h[i+3], h[i+2], h[i+1], h[i]
	}
	return s
}

// hashParam reads a 64-digit hex hash in the order it is written.
func hashParam(s, name string) (chain.Hash, error) {
	var h chain.Hash
	b, err := hexBytes(s, name, chain.HashSize)
	if err != nil {
		return h, err
	}
	copy(h[:], b)
	return h, nil
}

// DecodeNotify reads the nine params of mining.notify: job id, prevhash,
// coinb1, coinb2, merkle branch, version, nbits, ntime, clean jobs.
func DecodeNotify(params []json.RawMessage) (Job, error) {
	var j Job
	if err := checkCount("mining.notify", params, 9, 9); err != nil {
		return j, err
	}
	var err error
	if j.ID, err = paramString(params[0], "job id"); err != nil {
		return j, err
	}
	prev, err := paramString(params[1], "prevhash")
	if err != nil {
		return j, err
	}
	if j.PrevHash, err = hashParam(prev, "prevhash"); err != nil {
		return j, err
	}
	j.PrevHash = swapWords(j.PrevHash)
	if j.Coinb1, err = paramHex(params[2], "coinb1", -1); err != nil {
		return j, err
	}
	if j.Coinb2, err = paramHex(params[3], "coinb2", -1); err != nil {
		return j, err
	}
	if j.Branch, err = decodeBranch(params[4]); err != nil {
		return j, err
	}
	if j.Version, err = paramUint32(params[5], "version"); err != nil {
		return j, err
	}
	if j.Bits, err = paramUint32(params[6], "nbits"); err != nil {
		return j, err
	}
	if j.Time, err = paramUint32(params[7], "ntime"); err != nil {
		return j, err
	}
	j.Clean, err = paramBool(params[8], "clean jobs")
	return j, err
}

// decodeBranch reads the merkle branch, an array of hashes in computed order:
// unlike prevhash, miners concatenate them with the running hash as they are.
func decodeBranch(raw json.RawMessage) ([]chain.Hash, error) {
	v, err := decodeValue(raw, "merkle branch")
	if err != nil {
		return nil, err
	}
	items, ok := v.([]any)
	if !ok {
		return nil, badParam("merkle branch", "want an array, have %s", raw)
	}
	if len(items) > maxBranch {
		return nil, badParam("merkle branch", "%d hashes, over %d", len(items), maxBranch)
	}
	branch := make([]chain.Hash, len(items))
	for i, item := range items {
		name := fmt.Sprintf("merkle branch[%d]", i)
		s, ok := item.(string)
		if !ok {
			return nil, badParam(name, "want a string, have %v", item)
		}
		if branch[i], err = hashParam(s, name); err != nil {
			return nil, err
		}
	}
	return branch, nil
}

// NotifyParams returns the params of mining.notify for j, which DecodeNotify
// reads back to j.
func (j *Job) NotifyParams() []any {
	prev := swapWords(j.PrevHash)
	branch := make([]string, len(j.Branch))
	for i, h := range j.Branch {
		branch[i] = hex.EncodeToString(h[:])
	}
	return []any{
		j.ID,
		hex.EncodeToString(prev[:]),
		hex.EncodeToString(j.Coinb1),
		hex.EncodeToString(j.Coinb2),
		branch,
		hexUint32(j.Version),
		hexUint32(j.Bits),
		hexUint32(j.Time),
		j.Clean,
	}
}

// Coinbase returns the coinbase transaction coinb1 | extranonce1 |
// extranonce2 | coinb2: the pool's part of the extranonce tells miners apart,
// the miner's part gives each of them more than 2^32 headers per job.
func (j *Job) Coinbase(extranonce1, extranonce2 []byte) []byte {
	cb := make([]byte, 0, len(j.Coinb1)+len(extranonce1)+len(extranonce2)+len(j.Coinb2))
	cb = append(cb, j.Coinb1...)
	cb = append(cb, extranonce1...)
	cb = append(cb, extranonce2...)
	return append(cb, j.Coinb2...)
}

// MerkleRoot returns the merkle root of the block whose coinbase has these
// extranonces: the coinbase txid hashed up the branch, the running hash always
// on the left because the coinbase is the first transaction.
func (j *Job) MerkleRoot(extranonce1, extranonce2 []byte) chain.Hash {
	root := chain.DoubleSHA256(j.Coinbase(extranonce1, extranonce2))
	for _, h := range j.Branch {
		root = chain.HashPair(root, h)
	}
	return root
}
