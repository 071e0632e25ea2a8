package p2p

import (
	"testing"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/p2p/wire"
)

// A subscriber sees a peer join once the handshake is done and leave when
// it goes; after cancel (twice is fine) it sees nothing more.
func TestSubscribePeers(t *testing.T) {
	t.Parallel()
	a := startNode(t, newChain(t), nil, testConfig())
	events, cancel := a.SubscribePeers()

	r := dialRaw(t, a.addr, "127.0.0.1")
	// Nothing before the handshake ends.
	r.send(rawVersion(chain.Regtest))
	await[*wire.MsgVersion](r)
	select {
	case ev := <-events:
		t.Fatalf("event %+v before the handshake ended", ev)
	case <-time.After(100 * time.Millisecond):
	}
	r.send(&wire.MsgVerAck{})
	addr := r.conn.LocalAddr().String()
	for _, want := range []string{"joined", "left"} {
		ev := nextEvent(t, events)
		if ev.Kind != want || ev.Peer.Addr != addr || ev.Peer.Direction != "inbound" {
			t.Errorf("event %+v, want %s of inbound %s", ev, want, addr)
		}
		if want == "joined" {
			r.conn.Close()
		}
	}

	cancel()
	cancel()
	r = dialRaw(t, a.addr, "127.0.0.1")
	r.handshake(rawVersion(chain.Regtest))
	r.roundTrip() // the server is past the handshake, events and all
	select {
	case ev := <-events:
		t.Errorf("event %+v after cancel", ev)
	default:
	}
}

// A subscriber that does not read loses events; the peer layer goes on.
func TestSlowPeerSubscriberLosesEvents(t *testing.T) {
	t.Parallel()
	a := startNode(t, newChain(t), nil, testConfig())
	slow, cancel := a.SubscribePeers()
	defer cancel()
	for range peerEventBuffer {
		r := dialReady(t, a.addr, "127.0.0.1")
		r.conn.Close()
	}
	waitFor(t, 5*time.Second, "a full buffer", func() bool { return len(slow) == peerEventBuffer })
	r := dialReady(t, a.addr, "127.0.0.1")
	r.roundTrip()
}
