package stratum

import (
	"encoding/hex"
	"encoding/json"
	"math"

	"github.com/hashforge/hashforge/chain"
)

// Submit is a share of mining.submit: what the miner chose within a job.
type Submit struct {
	Worker      string
	JobID       string
	Extranonce2 []byte
	Time        uint32
	Nonce       uint32
	// VersionBits are the rolled version bits of BIP 310, present only when
	// the miner sent a sixth param (it negotiated version rolling).
	VersionBits    uint32
	HasVersionBits bool
}

// DecodeSubmit reads the params of mining.submit: worker, job id,
// extranonce2, ntime, nonce and, with version rolling, version bits. The
// extranonce2 must be extranonce2Size bytes, the size the subscribe result
// gave the miner: another size would shift coinb2 within the coinbase.
func DecodeSubmit(params []json.RawMessage, extranonce2Size int) (Submit, error) {
	var s Submit
	if err := checkCount("mining.submit", params, 5, 6); err != nil {
		return s, err
	}
	var err error
	if s.Worker, err = paramString(params[0], "worker"); err != nil {
		return s, err
	}
	if s.JobID, err = paramString(params[1], "job id"); err != nil {
		return s, err
	}
	if s.Extranonce2, err = paramHex(params[2], "extranonce2", extranonce2Size); err != nil {
		return s, err
	}
	if s.Time, err = paramUint32(params[3], "ntime"); err != nil {
		return s, err
	}
	// minerd writes the nonce as the number big-endian, like ntime, although
	// the header holds it little-endian: "10572b0f" is header bytes 0f2b5710.
	if s.Nonce, err = paramUint32(params[4], "nonce"); err != nil {
		return s, err
	}
	if len(params) == 6 {
		s.HasVersionBits = true
		s.VersionBits, err = paramUint32(params[5], "version bits")
	}
	return s, err
}

// Params returns the params of mining.submit for s, which DecodeSubmit reads
// back to s.
func (s *Submit) Params() []any {
	p := []any{s.Worker, s.JobID, hex.EncodeToString(s.Extranonce2), hexUint32(s.Time), hexUint32(s.Nonce)}
	if s.HasVersionBits {
		p = append(p, hexUint32(s.VersionBits))
	}
	return p
}

// Header returns the block header that share s of job j stands for, with
// extranonce1 the miner's from its subscribe result and versionMask the mask
// of BIP 310 agreed in mining.configure (0 without version rolling). Version
// bits outside the mask are refused, as BIP 310 forbids a miner to change
// them; inside it they replace the job's bits.
func (j *Job) Header(extranonce1 []byte, s *Submit, versionMask uint32) (chain.Header, error) {
	version := j.Version
	if s.HasVersionBits {
		if out := s.VersionBits &^ versionMask; out != 0 {
			return chain.Header{}, badParam("version bits", "%08x outside the mask %08x", out, versionMask)
		}
		version = version&^versionMask | s.VersionBits
	}
	return chain.Header{
		Version:    int32(version),
		PrevBlock:  j.PrevHash,
		MerkleRoot: j.MerkleRoot(extranonce1, s.Extranonce2),
		Timestamp:  s.Time,
		Bits:       j.Bits,
		Nonce:      s.Nonce,
	}, nil
}

// maxExtranonce2Size bounds the extranonce2 size a pool may ask for: more
// than 8 bytes buys a miner nothing (the nonce and ntime roll too) and a huge
// size would only make every submit huge.
const maxExtranonce2Size = 16

// DecodeSubscribeResult reads the result of mining.subscribe: the
// subscriptions (not used: no pool acts on them), the miner's extranonce1 and
// the size of the extranonce2 it fills in.
func DecodeSubscribeResult(result json.RawMessage) (extranonce1 []byte, extranonce2Size int, err error) {
	var params []json.RawMessage
	if err := json.Unmarshal(result, &params); err != nil {
		return nil, 0, badParam("subscribe result", "%v", err)
	}
	if err := checkCount("subscribe result", params, 3, 3); err != nil {
		return nil, 0, err
	}
	if extranonce1, err = paramHex(params[1], "extranonce1", -1); err != nil {
		return nil, 0, err
	}
	v, err := decodeValue(params[2], "extranonce2 size")
	if err != nil {
		return nil, 0, err
	}
	n, ok := v.(float64)
	if !ok || n != math.Trunc(n) || n < 1 || n > maxExtranonce2Size {
		return nil, 0, badParam("extranonce2 size", "want an integer from 1 to %d, have %s", maxExtranonce2Size, params[2])
	}
	return extranonce1, int(n), nil
}
