package main

import (
	"context"
	"fmt"
	"io"

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
