package store

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/hashforge/hashforge/chain"
)

// ReindexReport says what Reindex rebuilt.
type ReindexReport struct {
	Tip     chain.Tip // the rebuilt main chain's tip
	Found   int       // intact blocks found in the old file
	Skipped int       // blocks found but left out: their parent was lost, or they break a rule
	Kept    string    // where the old file is kept; empty when there was none
}

// Reindex rebuilds the store in dir from the blocks that can still be read
// in its file, however damaged, as bitcoind's -reindex does. salvage reads
// the file without bbolt; a new store is built beside it by passing every
// block found, parents first, through chain.ProcessBlock, which applies
// every rule; the new file then takes the old one's place, and the old one
// is kept as chain.db.damaged-<time>. The block index, main-chain heights,
// account state, undo data and transaction index all come from that
// replay; the peer book starts empty. A missing or empty chain.db gives a
// store with the genesis block alone, which peers fill in.
func Reindex(ctx context.Context, p *chain.Params, dir string, log *slog.Logger) (ReindexReport, error) {
	if _, err := os.Stat(dir); err != nil {
		return ReindexReport{}, fmt.Errorf("datadir: %w", err)
	}
	path := filepath.Join(dir, FileName)
	old, err := os.Open(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return ReindexReport{}, err
	}
	var found map[chain.Hash]salvagedBlock
	if old != nil {
		defer old.Close()
		// The lock stops Reindex while a node runs on the datadir, and a
		// node from starting on it before the new file is in place.
		if err := sharedLock(old, lockTimeout); err != nil {
			return ReindexReport{}, fmt.Errorf("%s: %w", path, err)
		}
		if found, err = salvage(old); err != nil {
			return ReindexReport{}, fmt.Errorf("read %s: %w", path, err)
		}
	}
	log.Info("blocks found", "file", path, "blocks", len(found))

	tmp := path + ".reindex"
	removeStore := func() {
		os.Remove(tmp)
		os.Remove(markerPath(tmp))
	}
	removeStore() // left by a reindex that was stopped
	r, err := rebuild(ctx, p, tmp, old, found, log)
	if err != nil {
		removeStore()
		return r, err
	}
	// The old file gets its second name before the new one takes the
	// first, so a crash in between leaves one of them as chain.db.
	if old != nil {
		r.Kept = path + ".damaged-" + time.Now().UTC().Format("20060102T150405.000Z")
		if err := os.Link(path, r.Kept); err != nil {
			removeStore()
			return r, fmt.Errorf("keep the old file: %w", err)
		}
	}
	os.Remove(markerPath(path))
	if err := os.Rename(tmp, path); err != nil {
		return r, err
	}
	return r, os.Rename(markerPath(tmp), markerPath(path))
}

// rebuild builds the store at path from the blocks found in old.
func rebuild(ctx context.Context, p *chain.Params, path string, old *os.File, found map[chain.Hash]salvagedBlock, log *slog.Logger) (ReindexReport, error) {
	// Each block is a transaction; fsync on each would make a long chain
	// take minutes. The file is thrown away if this fails, and synced once
	// at the end.
	st, err := open(path, options{noSync: true})
	if err != nil {
		return ReindexReport{}, err
	}
	defer st.db.Close() // on failure: the file is removed, so no marker
	// The chain's own line per block would bury what Reindex reports.
	ch, err := chain.New(p, st, slog.New(slog.DiscardHandler))
	if err != nil {
		return ReindexReport{}, err
	}
	order := descendants(found, p.GenesisHash())
	_, genesis := found[p.GenesisHash()]
	// Another network's file is told by its genesis block, not by blocks
	// that fail to connect: damage can take our genesis and block 1 with
	// one page, and the genesis block is known without the file.
	if len(order) == 0 && !genesis {
		for h, b := range found {
			if b.header.PrevBlock == (chain.Hash{}) {
				return ReindexReport{}, fmt.Errorf("the blocks found descend from genesis block %s, not the %s genesis block: wrong --network?", h, p.Name)
			}
		}
	}
	r := ReindexReport{Found: len(found), Skipped: len(found) - len(order)}
	if genesis {
		r.Skipped-- // chain.New wrote it: it is not left out
	}
	for _, h := range order {
		if err := ctx.Err(); err != nil {
			return r, err
		}
		b, err := found[h].read(old, h)
		if err != nil {
			return r, err
		}
		if err := ch.ProcessBlock(ctx, b); err != nil {
			if chain.Code(err) == "" {
				return r, err
			}
			r.Skipped++
			log.Warn("block left out", "hash", h, "err", err)
		}
	}
	r.Tip = ch.Tip()
	if err := st.db.Sync(); err != nil {
		return r, err
	}
	return r, st.Close()
}

// descendants returns the blocks of found that descend from genesis,
// genesis itself left out, parents before children; blocks of one height
// in hash order, so ties in work go the same way every time.
func descendants(found map[chain.Hash]salvagedBlock, genesis chain.Hash) []chain.Hash {
	const orphan = ^uint64(0)
	height := map[chain.Hash]uint64{genesis: 0}
	for h := range found {
		// Walk up to a block whose height is known, then number the way
		// back down; a walk longer than the blocks found is no chain.
		var path []chain.Hash
		base, known := height[h]
		for cur := h; !known; base, known = height[cur] {
			sb, ok := found[cur]
			if !ok || len(path) > len(found) {
				base = orphan
				break
			}
			path = append(path, cur)
			cur = sb.header.PrevBlock
		}
		for _, n := range slices.Backward(path) {
			if base != orphan {
				base++
			}
			height[n] = base
		}
	}
	var order []chain.Hash
	for h := range found {
		if height[h] != orphan && h != genesis {
			order = append(order, h)
		}
	}
	slices.SortFunc(order, func(a, b chain.Hash) int {
		return cmp.Or(cmp.Compare(height[a], height[b]), bytes.Compare(a[:], b[:]))
	})
	return order
}
