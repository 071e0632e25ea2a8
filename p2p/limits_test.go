package p2p

import (
	"bytes"
	"testing"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/p2p/wire"
)

func TestLimiter(t *testing.T) {
	t.Parallel()
	t0 := time.Now()
	twoTxs := wire.NewMsgGetData([]wire.InvItem{{Type: wire.InvTx}, {Type: wire.InvBlock}, {Type: wire.InvTx}})
	burst := func(cmd string) int { return int(budgets[cmd].burst) }
	drain := func(l *limiter) { take(l, "ping", t0, burst("ping")) }
	tests := []struct {
		name  string
		setup func(l *limiter) // at t0
		cmd   string
		at    time.Duration // after t0
		want  int           // messages of cmd allowed then, of as many as are tried
	}{
		{"a burst at once", nil, "ping", 0, burst("ping")},
		{"refilled at its rate", drain, "ping", 300 * time.Millisecond, 3},
		{"refilled up to the burst", drain, "ping", time.Hour, burst("ping")},
		{"commands apart", drain, "getheaders", 0, burst("getheaders")},
		{"a request grants its answer beyond the burst", func(l *limiter) {
			l.expect(&wire.MsgPing{}, t0)
			l.expect(&wire.MsgPing{}, t0)
		}, "pong", 0, burst("pong") + 2},
		{"a getdata grants a tx per tx item", func(l *limiter) { l.expect(twoTxs, t0) }, "tx", 0, burst("tx") + 2},
		{"and one notfound", func(l *limiter) { l.expect(twoTxs, t0) }, "notfound", 0, burst("notfound") + 1},
		{"grants up to maxGrant", func(l *limiter) { l.grant("headers", 1e6, t0) }, "headers", 0, burst("headers") + maxGrant},
		{"blocks unlimited", nil, "block", 0, 100_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l limiter
			if tt.setup != nil {
				tt.setup(&l)
			}
			if got := take(&l, tt.cmd, t0.Add(tt.at), 100_000); got != tt.want {
				t.Errorf("%d %s allowed, want %d", got, tt.cmd, tt.want)
			}
		})
	}
}

// take tries n messages of cmd at now and returns how many were allowed.
func take(l *limiter, cmd string, now time.Time, n int) int {
	allowed := 0
	for range n {
		if l.allow(cmd, now) {
			allowed++
		}
	}
	return allowed
}

// A flood of any limited command disconnects and discourages the peer
// within its budget's burst and a few messages more; a burst within the
// budget is served. A flood of address announcements (the relays of
// honest peers) is dropped over the budget and costs the peer nothing; a
// flood of long address lists is punished like any other.
func TestFloodDisconnects(t *testing.T) {
	t.Parallel()
	unknown := []wire.InvItem{{Type: wire.InvBlock, Hash: chain.Hash{1}}}
	tests := []wire.Message{
		&wire.MsgPing{},
		&wire.MsgPong{},
		&wire.MsgGetAddr{},
		&wire.MsgAddr{}, // an announcement: dropped over budget, unpunished
		&wire.MsgAddr{Addrs: make([]wire.NetAddr, maxAddrRelay+1)}, // a list nobody asked for
		wire.NewMsgInv(nil),
		wire.NewMsgGetData(unknown),
		wire.NewMsgNotFound(unknown),
		&wire.MsgGetHeaders{},
		&wire.MsgHeaders{},
		&wire.MsgTx{Tx: transfer(0, chain.Coin, nil)},
		&wire.MsgMempool{},
	}
	for _, m := range tests {
		t.Run(m.Command(), func(t *testing.T) {
			t.Parallel()
			a := startNode(t, newChain(t), nil, patientConfig())
			r := dialReady(t, a.addr, hostileHost)
			// A burst, two seconds of refill, and twice the messages over
			// it that end the connection (the handshake granted an addr), in
			// one write: the node may close before reading the rest.
			b := budgets[m.Command()]
			frames := bytes.Repeat(frameOf(t, m), int(b.burst+2*b.perSec)+2*banThreshold/floodScore)
			r.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
			r.conn.Write(frames)
			if relayed(m) {
				r.roundTrip() // served past the flood
				if a.Bans() != 0 {
					t.Errorf("after a flood of announcements: Bans() = %d, want none", a.Bans())
				}
				return
			}
			if closed, after := r.closed(5 * time.Second); !closed {
				t.Fatalf("still connected %s after the flood", after)
			}
			if a.Bans() != 1 {
				t.Errorf("after the flood: Bans() = %d, want the flooder punished", a.Bans())
			}
			// The burst alone is served, and the ping after it, even the
			// burst's last ping.
			r = dialReady(t, a.addr, "127.0.0.1")
			r.write(bytes.Repeat(frameOf(t, m), int(budgets[m.Command()].burst)-1))
			r.roundTrip()
			if a.Bans() != 1 {
				t.Errorf("a burst within budget: Bans() = %d, want the flooder's 1 alone", a.Bans())
			}
		})
	}
}

// A sync at full speed is no flood: the budgets of what a syncing node
// asks of the peer it syncs from hold twice the requests of a sync at
// 30,000 blocks a second (bench/RESULTS.md measures 25,000 to 35,000), so a
// long sync never drops a request or scores its peer.
func TestSyncWithinBudget(t *testing.T) {
	const blocksPerSec = 30_000
	for _, tt := range []struct {
		cmd    string
		perSec float64 // the requests a sync sends a second
	}{
		{"getdata", blocksPerSec / chunkBlocks},
		{"getheaders", blocksPerSec / chain.MaxHeaders},
	} {
		if b := budgets[tt.cmd]; b.perSec < 2*tt.perSec {
			t.Errorf("%s: budget %v a second, a sync sends %.0f", tt.cmd, b.perSec, tt.perSec)
		}
	}
}
