package stratum_test

import (
	"encoding/hex"
	"encoding/json"
	"math/big"
	"os"
	"testing"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/stratum"
)

// vector is testdata/stratum-job-block100000.json: real Bitcoin block 100000
// written as a Stratum job, with the share minerd 2.5.1 submits for it.
type vector struct {
	SubscribeResult  json.RawMessage   `json:"subscribe_result"`
	NotifyParams     []json.RawMessage `json:"notify_params"`
	SetDifficulty    json.RawMessage   `json:"set_difficulty"`
	CoinbaseHex      string            `json:"coinbase_hex"`
	CoinbaseTxid     string            `json:"coinbase_txid_display"`
	PrevHash         string            `json:"prevhash_display"`
	MerkleRoot       string            `json:"merkle_root_display"`
	HeaderHex        string            `json:"header_hex"`
	BlockHash        string            `json:"block_hash_display"`
	MinerdTarget     string            `json:"minerd_target_for_diff_1000"`
	ExactTarget      string            `json:"exact_floor_diff1_over_1000"`
	PrevHashExamples map[string]string `json:"prevhash_conversion_examples"`
	SubmitFromMinerd []json.RawMessage `json:"submit_params_from_minerd"`
	job              stratum.Job
	extranonce1      []byte
	extranonce2Size  int
}

func loadVector(t *testing.T) *vector {
	t.Helper()
	b, err := os.ReadFile("testdata/stratum-job-block100000.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vector
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if v.extranonce1, v.extranonce2Size, err = stratum.DecodeSubscribeResult(v.SubscribeResult); err != nil {
		t.Fatal(err)
	}
	if v.job, err = stratum.DecodeNotify(v.NotifyParams); err != nil {
		t.Fatal(err)
	}
	return &v
}

func hexOf(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestVectorServer checks the pool's direction: from minerd's submit, the
// coinbase, txid, merkle root and header rebuilt are block 100000's, and its
// hash is the real block hash, under the share target of the difficulty.
func TestVectorServer(t *testing.T) {
	v := loadVector(t)
	if v.job.PrevHash.String() != v.PrevHash {
		t.Errorf("prevhash %s, want %s", v.job.PrevHash, v.PrevHash)
	}
	s, err := stratum.DecodeSubmit(v.SubmitFromMinerd, v.extranonce2Size)
	if err != nil {
		t.Fatal(err)
	}
	if s.JobID != v.job.ID {
		t.Errorf("submit for job %q, notify is job %q", s.JobID, v.job.ID)
	}
	cb := v.job.Coinbase(v.extranonce1, s.Extranonce2)
	if got := hex.EncodeToString(cb); got != v.CoinbaseHex {
		t.Errorf("coinbase\n%s, want\n%s", got, v.CoinbaseHex)
	}
	if got := chain.DoubleSHA256(cb).String(); got != v.CoinbaseTxid {
		t.Errorf("coinbase txid %s, want %s", got, v.CoinbaseTxid)
	}
	if got := v.job.MerkleRoot(v.extranonce1, s.Extranonce2).String(); got != v.MerkleRoot {
		t.Errorf("merkle root %s, want %s", got, v.MerkleRoot)
	}
	h, err := v.job.Header(v.extranonce1, &s, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := h.Bytes()
	if got := hex.EncodeToString(b[:]); got != v.HeaderHex {
		t.Errorf("header\n%s, want\n%s", got, v.HeaderHex)
	}
	if got := h.Hash().String(); got != v.BlockHash {
		t.Errorf("block hash %s, want %s", got, v.BlockHash)
	}

	d, err := stratum.ParseDifficulty(v.SetDifficulty)
	if err != nil {
		t.Fatal(err)
	}
	target, err := stratum.DifficultyTarget(d)
	if err != nil {
		t.Fatal(err)
	}
	if want := new(big.Int).SetBytes(hexOf(t, v.ExactTarget)); target.Cmp(want) != 0 {
		t.Errorf("target of difficulty %v: %x, want %x", d, target, want)
	}
	if minerd := new(big.Int).SetBytes(hexOf(t, v.MinerdTarget)); minerd.Cmp(target) > 0 {
		t.Errorf("minerd's target %x is above ours %x: we would refuse its shares", minerd, target)
	}
	if chain.HashToBig(h.Hash()).Cmp(target) > 0 {
		t.Errorf("block hash %s is above the share target %x", h.Hash(), target)
	}
}

// TestVectorClient checks the miner's direction: from the same job and
// extranonce2, the header built has block 100000's merkle root, and a CPU
// search of a small range around minerd's nonce finds exactly that nonce
// under the block's own target, and submits it as minerd did.
func TestVectorClient(t *testing.T) {
	v := loadVector(t)
	share := stratum.Submit{
		Worker:      "user",
		JobID:       v.job.ID,
		Extranonce2: make([]byte, v.extranonce2Size),
		Time:        v.job.Time,
	}
	h, err := v.job.Header(v.extranonce1, &share, 0)
	if err != nil {
		t.Fatal(err)
	}
	const want = 0x10572b0f
	target := chain.CompactToBig(h.Bits)
	var found []uint32
	for n := uint32(want - 2000); n < want+2000; n++ {
		h.Nonce = n
		if chain.HashToBig(h.Hash()).Cmp(target) <= 0 {
			found = append(found, n)
		}
	}
	if len(found) != 1 || found[0] != want {
		t.Fatalf("search found nonces %x, want only %x", found, want)
	}
	share.Nonce = found[0]
	sameJSON(t, "submit params", share.Params(), v.SubmitFromMinerd)
}

// sameJSON checks that got and want marshal to the same JSON.
func sameJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	w, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if string(g) != string(w) {
		t.Errorf("%s\n%s, want\n%s", what, g, w)
	}
}

// TestVectorNotifyRoundTrip checks that the job encodes back to the params
// the pool sent, byte for byte, and the word-swapped prevhash examples.
func TestVectorNotifyRoundTrip(t *testing.T) {
	v := loadVector(t)
	sameJSON(t, "notify params", v.job.NotifyParams(), v.NotifyParams)
	for display, wire := range v.PrevHashExamples {
		prev, err := chain.ParseHash(display)
		if err != nil {
			t.Fatal(err)
		}
		job := stratum.Job{PrevHash: prev}
		if got := job.NotifyParams()[1]; got != wire {
			t.Errorf("prevhash %s on the wire: %s, want %s", display, got, wire)
		}
	}
}

// TestVectorServerShareCheck puts minerd's share of block 100000 through
// the server's share check: at difficulty 1000 it is a block (it meets the
// block's own target), with the block's real hash; another nonce is a low
// difficulty share, and rolled version bits outside the mask are refused.
func TestVectorServerShareCheck(t *testing.T) {
	v := loadVector(t)
	s, err := stratum.DecodeSubmit(v.SubmitFromMinerd, v.extranonce2Size)
	if err != nil {
		t.Fatal(err)
	}
	d, err := stratum.ParseDifficulty(v.SetDifficulty)
	if err != nil {
		t.Fatal(err)
	}
	target, err := stratum.DifficultyTarget(d)
	if err != nil {
		t.Fatal(err)
	}
	h, block, _, err := stratum.CheckShare(&v.job, v.extranonce1, &s, 0, target)
	if err != nil || !block || h.Hash().String() != v.BlockHash {
		t.Fatalf("minerd's share: block %t, hash %s, %v; want block %s", block, h.Hash(), err, v.BlockHash)
	}

	other := s
	other.Nonce++
	if _, block, code, err := stratum.CheckShare(&v.job, v.extranonce1, &other, 0, target); block || code != 23 {
		t.Errorf("nonce+1: block %t, code %d (%v); want a low difficulty share, code 23", block, code, err)
	}
	rolled := s
	rolled.HasVersionBits, rolled.VersionBits = true, 0x20000000
	if _, _, code, err := stratum.CheckShare(&v.job, v.extranonce1, &rolled, 0x1fffe000, target); code != 20 {
		t.Errorf("version bits outside the mask: code %d (%v), want 20", code, err)
	}
}
