package main

// verify and reindex: the commands that check a datadir's store and
// rebuild a damaged one.

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/store"
)

func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	params, dataDir, err := parseDatadirCommand("verify",
		"Re-validate every block of a stored main chain from genesis, replaying account\n"+
			"state, and check the stored state against the replay; every page and record of\n"+
			"the database is read and checked first. Lists every problem found and exits 1\n"+
			"on any.", args, stderr)
	if err != nil {
		return err
	}
	st, err := store.Open(dataDir, true)
	if err != nil {
		return fmt.Errorf("verify %s: %w", dataDir, store.Advise(err, params.Name, dataDir))
	}
	defer st.Close()
	tip, err := chain.Verify(ctx, params, st, nil)
	if err != nil {
		return fmt.Errorf("verify %s: %w", dataDir, err)
	}
	fmt.Fprintf(stdout, "ok: %s chain verified, height %d, tip %s\n", params.Name, tip.Height, tip.Hash)
	return nil
}

func runReindex(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	params, dataDir, err := parseDatadirCommand("reindex",
		"Rebuild the chain store of a datadir from the blocks its file still holds, as\n"+
			"bitcoind's -reindex does: every intact block is replayed from genesis with every\n"+
			"rule, and the old file is kept as chain.db.damaged-<time>. Stop the node first.", args, stderr)
	if err != nil {
		return err
	}
	r, err := store.Reindex(ctx, params, dataDir, slog.New(slog.NewTextHandler(stderr, nil)))
	if err != nil {
		return fmt.Errorf("reindex %s: %w", dataDir, err)
	}
	fmt.Fprintf(stdout, "ok: %s chain reindexed, height %d, tip %s\n", params.Name, r.Tip.Height, r.Tip.Hash)
	fmt.Fprintf(stdout, "%d blocks found, %d left out (parent lost or a rule broken)\n", r.Found, r.Skipped)
	if r.Kept != "" {
		fmt.Fprintf(stdout, "the old file is kept as %s\n", r.Kept)
	}
	return nil
}
