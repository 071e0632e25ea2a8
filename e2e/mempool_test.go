//go:build unix

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/hashforge/hashforge/apiclient"
	"github.com/hashforge/hashforge/chain"
)

// pending returns the txids n's mempool holds.
func (n *node) pending() ([]chain.Hash, error) {
	body, err := httpGet(n.url() + "/api/mempool?limit=1000")
	if err != nil {
		return nil, err
	}
	var mp apiclient.Mempool
	if err := json.Unmarshal(body, &mp); err != nil {
		return nil, err
	}
	ids := make([]chain.Hash, len(mp.Txs))
	for i, p := range mp.Txs {
		ids[i] = p.Tx.Hash()
	}
	return ids, nil
}

// TestMempoolRestart: a restarted node still has the transfers that only it
// held, and mines them. Stopped with SIGINT it saves its pool as it exits
// (the periodic save is an hour away); killed with SIGKILL it has what its
// last periodic save held, at most one interval old.
func TestMempoolRestart(t *testing.T) {
	tests := []struct {
		name     string
		sig      os.Signal
		interval string // --mempool-save-interval
	}{
		{"SIGINT", os.Interrupt, "1h"},
		{"SIGKILL", syscall.SIGKILL, "300ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			faucetKey, to := faucetAndRecipient(t)
			extra := []string{"--mempool-save-interval", tt.interval}
			a := startNode(t, "A", nodeOpts{extra: extra})
			var sent []chain.Hash
			for range 3 {
				sent = append(sent, walletSend(t, append([]string{"--key", faucetKey, "--to", to, "--amount", "1.5", "--fee", "0.0001"}, a.walletFlags()...)...))
			}
			if tt.sig == syscall.SIGKILL {
				time.Sleep(3 * 300 * time.Millisecond) // a periodic save after the last send
			}
			st := a.proc.signal(t, tt.sig, 5*time.Second)
			if tt.sig == os.Interrupt && st.ExitCode() != 0 {
				t.Fatalf("A exited %d after SIGINT, want 0", st.ExitCode())
			}

			again := startNode(t, "A restarted", nodeOpts{datadir: a.datadir, port: a.p2pPort, extra: extra})
			got, err := again.pending()
			if err != nil {
				t.Fatal(err)
			}
			byBytes := func(a, b chain.Hash) int { return bytes.Compare(a[:], b[:]) }
			slices.SortFunc(got, byBytes)
			slices.SortFunc(sent, byBytes)
			if !slices.Equal(got, sent) {
				t.Fatalf("pending after the restart: %v, want the transfers sent before it, %v", got, sent)
			}
			if _, err := again.api().SetMining(context.Background(), true); err != nil {
				t.Fatal(err)
			}
			for _, txid := range sent {
				waitFor(t, 30*time.Second, fmt.Sprintf("%s mined", txid), func() (bool, string) {
					st, _, err := again.txStatus(txid)
					return err == nil && st.Status == "confirmed", fmt.Sprintf("%s %v", st.Status, err)
				})
			}
		})
	}
}
