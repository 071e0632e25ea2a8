package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hashforge/hashforge/apiclient"
	"github.com/hashforge/hashforge/chain"
)

// stratumConn is a miner's side of a Stratum connection, spoken line by
// line as minerd does, for tests that need a miner without a real one.
type stratumConn struct {
	conn  net.Conn
	lines *bufio.Scanner
	id    int
}

func dialStratum(t *testing.T, addr string) *stratumConn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &stratumConn{conn: conn, lines: bufio.NewScanner(conn)}
}

// call sends a request and returns its reply, skipping notifications.
func (c *stratumConn) call(t *testing.T, method string, params ...any) json.RawMessage {
	t.Helper()
	c.id++
	b, _ := json.Marshal(map[string]any{"id": c.id, "method": method, "params": params})
	c.conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.conn.Write(append(b, '\n')); err != nil {
		t.Fatalf("stratum %s: %v", method, err)
	}
	for c.lines.Scan() {
		var m struct {
			ID     json.RawMessage `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  json.RawMessage `json:"error"`
		}
		if err := json.Unmarshal(c.lines.Bytes(), &m); err != nil {
			t.Fatalf("stratum %s: reply %q: %v", method, c.lines.Text(), err)
		}
		if string(m.ID) == fmt.Sprint(c.id) {
			if len(m.Error) > 0 && string(m.Error) != "null" {
				t.Fatalf("stratum %s refused: %s", method, m.Error)
			}
			return m.Result
		}
	}
	t.Fatalf("stratum %s: no reply: %v", method, c.lines.Err())
	return nil
}

// start subscribes and authorises as user.
func (c *stratumConn) start(t *testing.T, user string) {
	t.Helper()
	c.call(t, "mining.subscribe", "e2e/1.0")
	c.call(t, "mining.authorize", user, "x")
}

// TestStratumPool runs our Stratum client against our Stratum server across
// processes: node A serves Stratum and mines nothing; node C, A's peer,
// serves Stratum too; node B mines only through --pool, A first and C as
// the failover. B's blocks land on A's chain and C's, paid to B's worker
// address; stopped, A loses B to C, whose blocks then grow the chain; back,
// A wins B again within --pool-recheck.
func TestStratumPool(t *testing.T) {
	ctx := context.Background()
	payee := chain.Address{0xab, 0xcd, 0xef}
	stratumA, stratumC := freePort(t), freePort(t)
	// Shares every second or so: on regtest every share is a block.
	serve := func(port string) []string {
		return []string{"--stratum-port", port, "--stratum-share-interval", "1s"}
	}
	a := startNode(t, "A", nodeOpts{extra: serve(stratumA)})
	c := startNode(t, "C", nodeOpts{peers: []string{a.addr()}, extra: serve(stratumC)})
	b := startNode(t, "B", nodeOpts{mine: true, extra: []string{
		"--pool", "stratum+tcp://127.0.0.1:" + stratumA, "--pool", "stratum+tcp://127.0.0.1:" + stratumC,
		"--pool-user", payee.String() + ".rig1", "--pool-recheck", "2s",
	}})

	// B mines for A: its blocks are A's, and A's peer C has them too.
	st := a.waitHeight(t, 60*time.Second, 3)
	c.waitHeight(t, 30*time.Second, 3)
	if acc, err := a.api().Account(ctx, payee); err != nil || acc.Balance < st.Height*chain.Regtest.Subsidy {
		t.Errorf("the worker's address holds %+v (%v) at height %d: want every block's subsidy", acc, err, st.Height)
	}
	srv, err := a.api().Stratum(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(srv.Workers) != 1 || srv.Workers[0].Worker != "rig1" || srv.Workers[0].Address != payee ||
		srv.Workers[0].BlocksFound < 3 || srv.Shares["accepted"] < 3 {
		t.Errorf("A's Stratum: %+v, want worker rig1 of %s with 3 blocks or more", srv, payee)
	}
	pool := waitPool(t, b, "B mines for A", func(p *apiclient.PoolStatus) bool {
		return p.Connected && strings.HasSuffix(p.URL, ":"+stratumA) && p.SharesAccepted >= 3
	})
	t.Logf("B mined %d blocks for A: %d shares accepted at difficulty %g, latency %.1f ms",
		srv.BlocksFound, pool.SharesAccepted, pool.Difficulty, pool.LatencyAvgMS)

	// A stops: B fails over to C, and the chain grows on C.
	height := a.mustStatus(t).Height
	a.stop(t, 5*time.Second)
	waitPool(t, b, "B fails over to C", func(p *apiclient.PoolStatus) bool {
		return p.Connected && strings.HasSuffix(p.URL, ":"+stratumC) && p.Switches == 1
	})
	c.waitHeight(t, 60*time.Second, height+3)
	if srv, err := c.api().Stratum(ctx); err != nil || srv.BlocksFound < 3 {
		t.Errorf("C's Stratum after the failover: %+v, %v; want 3 blocks or more", srv, err)
	}

	// A is back (C's peer now, on its Stratum port): B returns to it.
	a = startNode(t, "A again", nodeOpts{datadir: a.datadir, port: a.p2pPort, peers: []string{c.addr()}, extra: serve(stratumA)})
	waitPool(t, b, "B returns to A", func(p *apiclient.PoolStatus) bool {
		return p.Connected && strings.HasSuffix(p.URL, ":"+stratumA) && p.Switches == 2
	})
	a.waitHeight(t, 60*time.Second, c.mustStatus(t).Height+2)

	metrics, err := httpGet(b.url() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := metricValue(string(metrics), `miner_pool_shares_total{result="accepted"}`); !ok || v < 6 {
		t.Errorf(`B's miner_pool_shares_total{result="accepted"} = %v (found %t), want 6 or more`, v, ok)
	}
	if v, ok := metricValue(string(metrics), "miner_pool_switches_total"); !ok || v != 2 {
		t.Errorf("B's miner_pool_switches_total = %v (found %t), want 2", v, ok)
	}
}

// waitPool waits until n's pool status meets cond, and returns it.
func waitPool(t *testing.T, n *node, what string, cond func(*apiclient.PoolStatus) bool) *apiclient.PoolStatus {
	t.Helper()
	var pool *apiclient.PoolStatus
	waitFor(t, 30*time.Second, what, func() (bool, string) {
		st, err := n.status()
		if err != nil {
			return false, err.Error()
		}
		pool = st.Pool
		return pool != nil && cond(pool), fmt.Sprintf("%+v", pool)
	})
	return pool
}
