package main

import (
	"context"
	"fmt"
	"io"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/store"
)

func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("miner verify", stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: miner verify [--network N] [--datadir DIR]\n\n"+
			"Re-validate every block of a stored main chain from genesis, replaying account\n"+
			"state, and check the stored state against the replay. Exits 1 on any fault.\n\nFlags:\n%s", fs.FlagUsages())
	}
	network := addNetworkFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	params, dataDir, err := network.resolve()
	if err != nil {
		return err
	}
	st, err := store.Open(dataDir, true)
	if err != nil {
		return err
	}
	defer st.Close()
	tip, err := chain.Verify(ctx, params, st, nil)
	if err != nil {
		return fmt.Errorf("verify %s: %w", dataDir, err)
	}
	fmt.Fprintf(stdout, "ok: %s chain verified, height %d, tip %s\n", params.Name, tip.Height, tip.Hash)
	return nil
}
