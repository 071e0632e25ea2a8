package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/hasher"
)

// searchHit is one line of `miner search` output.
type searchHit struct {
	Nonce uint32     `json:"nonce"`
	Hash  chain.Hash `json:"hash"`
}

func runSearch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("miner search", stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: miner search --header HEX [--start N] [--count N] [--bits HEX | --target HEX]\n\n"+
			"Search nonces [start, start+count) of an 80-byte header (its own nonce is ignored) for\n"+
			"hashes at or under the target: the header's bits unless --bits or --target is given.\n"+
			"Prints one JSON line per hit on stdout and a summary on stderr.\n\nFlags:\n%s", fs.FlagUsages())
	}
	headerHex := fs.String("header", "", "80-byte block header as hex (required)")
	start := fs.Uint64("start", 0, "first nonce")
	count := fs.Uint64("count", 0, "nonces to search (default: up to the end of the nonce space)")
	bitsHex := fs.String("bits", "", "target as compact bits, hex (e.g. 1d00ffff)")
	targetHex := fs.String("target", "", "target as 64 hex digits, most significant first")
	hash := addHashFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}

	raw, err := hex.DecodeString(*headerHex)
	if err != nil || len(raw) != chain.HeaderSize {
		return usagef("--header: want %d bytes as hex, got %q", chain.HeaderSize, *headerHex)
	}
	var w hasher.Work
	copy(w.Header[:], raw)
	header, _ := chain.DecodeHeader(raw)
	if w.Target, err = searchTarget(header.Bits, fs.Changed("bits"), *bitsHex, fs.Changed("target"), *targetHex); err != nil {
		return err
	}
	if *start >= hasher.NonceSpace {
		return usagef("--start %d: beyond the nonce space (2^32)", *start)
	}
	if !fs.Changed("count") {
		*count = hasher.NonceSpace - *start
	}
	// Compare against the room left, not *start+*count, which a huge --count wraps.
	if *count == 0 || *count > hasher.NonceSpace-*start {
		return usagef("--count %d: want 1 to %d from --start %d", *count, hasher.NonceSpace-*start, *start)
	}
	devices, err := hash.open(false)
	if err != nil {
		return err
	}
	defer hasher.CloseAll(devices)

	enc := json.NewEncoder(stdout)
	hits := 0
	t0 := time.Now()
	searched, err := hasher.Search(ctx, devices, w, *start, *count, func(h hasher.Hit) {
		hits++
		enc.Encode(searchHit{Nonce: h.Nonce, Hash: h.Hash})
	})
	secs := time.Since(t0).Seconds()
	fmt.Fprintf(stderr, "searched %d nonces in %.3f s: %s, %d hits\n", searched, secs, hasher.FormatRate(float64(searched)/secs), hits)
	return err
}

// searchTarget picks the target: --bits, --target or the header's own bits.
func searchTarget(headerBits uint32, hasBits bool, bitsHex string, hasTarget bool, targetHex string) ([32]byte, error) {
	switch {
	case hasBits && hasTarget:
		return [32]byte{}, usagef("give --bits or --target, not both")
	case hasTarget:
		b, err := hex.DecodeString(targetHex)
		if err != nil || len(b) != 32 {
			return [32]byte{}, usagef("--target: want 64 hex digits, got %q", targetHex)
		}
		return chain.BigToHash(new(big.Int).SetBytes(b)), nil
	case hasBits:
		v, err := strconv.ParseUint(bitsHex, 16, 32)
		if err != nil {
			return [32]byte{}, usagef("--bits: want 8 hex digits, got %q", bitsHex)
		}
		headerBits = uint32(v)
	}
	t := chain.CompactToBig(headerBits)
	if t.Sign() <= 0 || t.BitLen() > 256 {
		return [32]byte{}, usagef("bits %08x encode no target in (0, 2^256)", headerBits)
	}
	return chain.BigToHash(t), nil
}
