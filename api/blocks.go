package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/hashforge/hashforge/apiclient"
	"github.com/hashforge/hashforge/chain"
)

func summarize(b *chain.Block, height uint64) apiclient.BlockSummary {
	s := apiclient.BlockSummary{
		Height:     height,
		Hash:       b.Hash(),
		Prev:       b.Header.PrevBlock,
		Time:       int64(b.Header.Timestamp),
		Bits:       fmt.Sprintf("%08x", b.Header.Bits),
		Difficulty: chain.Difficulty(b.Header.Bits),
		Nonce:      b.Header.Nonce,
		TxCount:    len(b.Txs),
		Size:       len(b.Bytes()),
	}
	if len(b.Txs) > 0 && b.Txs[0].Kind == chain.TxCoinbase {
		s.Miner, s.Reward = b.Txs[0].To, b.Txs[0].Amount
	}
	return s
}

// Page sizes of the block lists: a screenful by default, and a bound on the
// blocks one request reads from disk.
const (
	defaultBlocksLimit = 20
	maxBlocksLimit     = 500
	defaultChainLimit  = 100
	maxChainLimit      = 1000
)

// pageQuery is a list's ?from= (hasFrom false when absent) and ?limit=.
type pageQuery struct {
	from    uint64
	hasFrom bool
	limit   int
}

func parsePage(w http.ResponseWriter, r *http.Request, defLimit, maxLimit int) (q pageQuery, ok bool) {
	if v := r.URL.Query().Get("from"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, codeMalformed, fmt.Sprintf("from %q: want a block height", v))
			return q, false
		}
		q.from, q.hasFrom = n, true
	}
	q.limit, ok = parseLimit(w, r, defLimit, 1, maxLimit)
	return q, ok
}

// parseLimit reads ?limit=, def when absent; out of [least, most] it answers
// 400 and returns false.
func parseLimit(w http.ResponseWriter, r *http.Request, def, least, most int) (limit int, ok bool) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < least || n > most {
		writeError(w, http.StatusBadRequest, codeMalformed, fmt.Sprintf("limit %q: want %d to %d", v, least, most))
		return 0, false
	}
	return n, true
}

// listBlocks pages the main chain newest first, from ?from= (default: the
// tip) down.
func (s *Server) listBlocks(w http.ResponseWriter, r *http.Request) {
	q, ok := parsePage(w, r, defaultBlocksLimit, maxBlocksLimit)
	if !ok {
		return
	}
	s.page(w, func(tip uint64) (heights []uint64, next *uint64) {
		from := tip
		if q.hasFrom {
			from = min(q.from, tip)
		}
		for h := from; len(heights) < q.limit; h-- {
			heights = append(heights, h)
			if h == 0 {
				return heights, nil
			}
		}
		n := heights[len(heights)-1] - 1
		return heights, &n
	})
}

// listChain pages the whole main chain oldest first, from ?from= (default:
// genesis) up.
func (s *Server) listChain(w http.ResponseWriter, r *http.Request) {
	q, ok := parsePage(w, r, defaultChainLimit, maxChainLimit)
	if !ok {
		return
	}
	s.page(w, func(tip uint64) (heights []uint64, next *uint64) {
		for h := q.from; h <= tip && len(heights) < q.limit; h++ {
			heights = append(heights, h)
		}
		if n := q.from + uint64(len(heights)); len(heights) > 0 && n <= tip {
			return heights, &n
		}
		return heights, nil
	})
}

// page answers with the main-chain blocks at the heights pick chooses given
// the tip height, all read at one tip.
func (s *Server) page(w http.ResponseWriter, pick func(tip uint64) ([]uint64, *uint64)) {
	out := apiclient.BlockPage{Blocks: []apiclient.BlockSummary{}}
	err := s.cfg.Chain.View(func(v *chain.View) error {
		heights, next := pick(v.Tip().Height)
		for _, h := range heights {
			hash, _ := v.HashAt(h)
			b, err := v.Block(hash)
			if err != nil {
				return err
			}
			out.Blocks = append(out.Blocks, summarize(b, h))
		}
		out.Next = next
		return nil
	})
	if err != nil {
		writeError(w, http.StatusInternalServerError, codeInternal, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// Errors of a block lookup that are the request's, not the node's.
var (
	errNoBlock = errors.New("no such block")
	errBadID   = errors.New("want latest, a height or a 64-digit hash")
)

// block answers GET /api/blocks/{id}: id is "latest", a main-chain height,
// or a block hash on any branch.
func (s *Server) block(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var out apiclient.BlockDetail
	err := s.cfg.Chain.View(func(v *chain.View) error {
		tip := v.Tip().Height
		var hash chain.Hash
		switch height, err := strconv.ParseUint(id, 10, 64); {
		case id == "latest":
			hash = v.Tip().Hash
		case err == nil:
			var ok bool
			if hash, ok = v.HashAt(height); !ok {
				return fmt.Errorf("%w: height %d is above the tip at %d", errNoBlock, height, tip)
			}
		default:
			if hash, err = chain.ParseHash(id); err != nil {
				return fmt.Errorf("block %q: %w", id, errBadID)
			}
		}
		height, main, ok := v.Locate(hash)
		if !ok {
			return fmt.Errorf("%w: %s is unknown", errNoBlock, hash)
		}
		b, err := v.Block(hash)
		if err != nil {
			return fmt.Errorf("read block %s: %w", hash, err)
		}
		out = apiclient.BlockDetail{BlockSummary: summarize(b, height), Main: main,
			MerkleRoot: b.Header.MerkleRoot, Version: b.Header.Version, Txs: b.Txs}
		if main {
			out.Confirmations = tip - height + 1
		}
		return nil
	})
	switch {
	case errors.Is(err, errNoBlock):
		writeError(w, http.StatusNotFound, codeNotFound, err.Error())
	case errors.Is(err, errBadID):
		writeError(w, http.StatusBadRequest, codeMalformed, err.Error())
	case err != nil:
		writeError(w, http.StatusInternalServerError, codeInternal, err.Error())
	default:
		writeJSON(w, http.StatusOK, out)
	}
}
