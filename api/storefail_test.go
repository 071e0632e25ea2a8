package api_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashforge/hashforge/apiclient"
	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/chain/chaintest"
)

// A miner whose blocks cannot be stored shows in the status as not mining,
// with the reason, and in the metrics as write errors; once the store writes
// again the reason goes and mining is back.
func TestStatusShowsWriteFailure(t *testing.T) {
	srv := newServer(t, chain.FaucetKey())
	srv.run(t)
	srv.store.Fail(chaintest.OpConnect)
	srv.miner.SetMining(true)

	status := func() apiclient.Status {
		var st apiclient.Status
		getJSON(t, srv.URL+"/api/status", &st)
		return st
	}
	waitStatus := func(what string, ok func(apiclient.Status) bool) apiclient.Status {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if st := status(); ok(st) {
				return st
			} else if time.Now().After(deadline) {
				t.Fatalf("%s: not within 10 s; status mining %v, mining_error %q", what, st.Mining, st.MiningError)
			}
		}
	}
	st := waitStatus("mining stopped", func(st apiclient.Status) bool { return st.MiningError != "" })
	if st.Mining || !strings.Contains(st.MiningError, "no space left on device") {
		t.Errorf("status mining %v, mining_error %q: want false and the store's error", st.Mining, st.MiningError)
	}
	// One failed write, or more if a retry came meanwhile.
	code, _, body := get(t, srv.URL+"/metrics")
	if code != http.StatusOK || !strings.Contains(body, "miner_mining 0\n") ||
		!regexp.MustCompile(`(?m)^miner_mining_write_errors_total [1-9]`).MatchString(body) {
		t.Errorf("metrics while the store fails (%d) lack miner_mining 0 and a write error:\n%s", code, body)
	}

	srv.store.Fail()
	waitStatus("mining resumed", func(st apiclient.Status) bool { return st.Mining && st.MiningError == "" })
	if srv.chain.Tip().Height == 0 {
		t.Error("mining resumed without the block that failed to store")
	}
}
