package p2p

import (
	"net"
	"testing"
	"time"
)

func TestTwoNodesRelayBlocksAndAgree(t *testing.T) {
	t.Parallel()
	a := startNode(t, newChain(t), nil, testConfig())
	b := connect(t, a)
	waitFor(t, 5*time.Second, "A sees B", func() bool { return a.readyPeers() == 1 })

	// Blocks found on either side reach the other by inv, getdata, block.
	mine(t, a.ch, 5)
	waitTip(t, 5*time.Second, b, a)
	mine(t, b.ch, 2)
	waitTip(t, 5*time.Second, a, b)
	if h := a.ch.Tip().Height; h != 7 {
		t.Fatalf("height %d, want 7", h)
	}
	waitAgreement(t, 1, a, b)

	tip := a.ch.Tip()
	for _, side := range []struct {
		n         *node
		direction string
		addr      string
	}{{a, "inbound", ""}, {b, "outbound", a.addr}} {
		var peers []PeerInfo
		// Ping times come with the first pong, one ping interval in.
		waitFor(t, 5*time.Second, "a pong", func() bool {
			peers = side.n.Peers()
			return len(peers) == 1 && peers[0].PingMS != nil
		})
		p := peers[0]
		if p.Direction != side.direction {
			t.Errorf("%s side: direction %q", side.direction, p.Direction)
		}
		if host, _, err := net.SplitHostPort(p.Addr); err != nil || host != "127.0.0.1" || side.addr != "" && p.Addr != side.addr {
			t.Errorf("%s side: addr %q, want %s", side.direction, p.Addr, side.addr)
		}
		if p.Height != tip.Height || p.Tip != tip.Hash.String() || p.Work != tip.Work.String() {
			t.Errorf("%s side: peer tip %d %s work %s, want %d %s work %s",
				side.direction, p.Height, p.Tip, p.Work, tip.Height, tip.Hash, tip.Work)
		}
		if age := time.Since(p.LastSeen); age < 0 || age > 2*time.Second {
			t.Errorf("%s side: last seen %s ago", side.direction, age)
		}
		if *p.PingMS < 0 || *p.PingMS > 1000 || p.BanScore != 0 {
			t.Errorf("%s side: ping %v ms, ban score %d", side.direction, *p.PingMS, p.BanScore)
		}
	}
}
