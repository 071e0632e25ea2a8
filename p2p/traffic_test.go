package p2p

import (
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/p2p/wire"
)

// trafficKey names one row of Traffic.
type trafficKey struct{ command, direction string }

// trafficOf is s's Traffic by command and direction, after checking its
// rows: every command the protocol defines, in both directions, sorted by
// command then direction, and nothing else, whatever crossed the wire.
func trafficOf(t *testing.T, s *Server) map[trafficKey]Traffic {
	t.Helper()
	rows := s.Traffic()
	var got, want []trafficKey
	for _, r := range rows {
		got = append(got, trafficKey{r.Command, r.Direction})
	}
	for _, cmd := range slices.Sorted(slices.Values(wire.Commands())) {
		want = append(want, trafficKey{cmd, "received"}, trafficKey{cmd, "sent"})
	}
	if !slices.Equal(got, want) {
		t.Fatalf("traffic rows\n%v\nwant\n%v", got, want)
	}
	out := make(map[trafficKey]Traffic, len(rows))
	for _, r := range rows {
		out[trafficKey{r.Command, r.Direction}] = r
	}
	return out
}

// A handshake and a ping, frame by frame: the server counts every frame it
// read and wrote, header (24 bytes) and payload, under its command and
// direction, and nothing under any other.
func TestTrafficCountsFrames(t *testing.T) {
	t.Parallel()
	a := startNode(t, newChain(t), nil, quietConfig())
	if got := trafficOf(t, a.Server); got[trafficKey{"version", "sent"}].Messages != 0 {
		t.Errorf("traffic before any peer: %+v", got)
	}
	r := dialReady(t, a.addr, "127.0.0.1")
	r.roundTrip()

	want := map[trafficKey]Traffic{
		{"version", "received"}: {Messages: 1, Bytes: 24 + 118},
		{"verack", "received"}:  {Messages: 1, Bytes: 24},
		{"ping", "received"}:    {Messages: 1, Bytes: 24 + 80},
		{"version", "sent"}:     {Messages: 1, Bytes: 24 + 118},
		{"verack", "sent"}:      {Messages: 1, Bytes: 24},
		{"getaddr", "sent"}:     {Messages: 1, Bytes: 24},
		{"mempool", "sent"}:     {Messages: 1, Bytes: 24},
		{"pong", "sent"}:        {Messages: 1, Bytes: 24 + 80},
	}
	// The raw peer may read the pong before the server's writer counts it.
	var mismatch []string
	waitFor(t, 2*time.Second, "the counts of every frame", func() bool {
		mismatch = nil
		for k, got := range trafficOf(t, a.Server) {
			if w := want[k]; got.Messages != w.Messages || got.Bytes != w.Bytes {
				mismatch = append(mismatch, fmt.Sprintf("%s %s: %d messages, %d bytes, want %d, %d",
					k.command, k.direction, got.Messages, got.Bytes, w.Messages, w.Bytes))
			}
		}
		return len(mismatch) == 0
	})
	if len(mismatch) > 0 {
		t.Errorf("traffic:\n%v", mismatch)
	}
}

// What one node counts as sent, its peer counts as received, command by
// command, through a handshake, address exchange and block relay.
func TestTrafficAgreesBetweenNodes(t *testing.T) {
	t.Parallel()
	a := startNode(t, newChain(t), nil, quietConfig())
	cfg := quietConfig()
	cfg.Connect = []string{a.addr}
	b := startNode(t, newChain(t), nil, cfg)
	waitFor(t, 5*time.Second, "handshake", func() bool { return a.readyPeers() == 1 && b.readyPeers() == 1 })
	mine(t, a.ch, 3)
	waitTip(t, 5*time.Second, b, a)

	var diff []string
	waitFor(t, 5*time.Second, "both sides to count the same frames", func() bool {
		diff = nil
		at, bt := trafficOf(t, a.Server), trafficOf(t, b.Server)
		for _, cmd := range commands {
			for _, pair := range [][2]map[trafficKey]Traffic{{at, bt}, {bt, at}} {
				s, r := pair[0][trafficKey{cmd, "sent"}], pair[1][trafficKey{cmd, "received"}]
				if s.Messages != r.Messages || s.Bytes != r.Bytes {
					diff = append(diff, fmt.Sprintf("%s: sent %d messages, %d bytes; received %d, %d",
						cmd, s.Messages, s.Bytes, r.Messages, r.Bytes))
				}
			}
		}
		return len(diff) == 0
	})
	if len(diff) > 0 {
		t.Errorf("the sides disagree:\n%v", diff)
	}
	// The exchange took place: A announced its blocks, B fetched them.
	for _, tt := range []struct {
		name string
		n    *node
		cmd  string
	}{
		{"A", a, "version"}, {"B", b, "version"}, {"A", a, "inv"}, {"B", b, "getdata"}, {"A", a, "block"},
	} {
		if got := trafficOf(t, tt.n.Server)[trafficKey{tt.cmd, "sent"}]; got.Messages == 0 || got.Bytes < uint64(frameHeaderSize)*got.Messages {
			t.Errorf("%s sent %s: %d messages, %d bytes", tt.name, tt.cmd, got.Messages, got.Bytes)
		}
	}
}

// A frame that does not read as a message counts nowhere: neither under a
// command it names (a peer must not add labels) nor under the one it
// pretends to be.
func TestTrafficSkipsBadFrames(t *testing.T) {
	t.Parallel()
	badSum := frameOf(t, &wire.MsgPing{})
	badSum[23] ^= 0x80
	tests := []struct {
		name  string
		bytes []byte
	}{
		{"unknown command", wire.Frame(magic, "getblocks", nil)},
		{"bad checksum", badSum},
		{"other network", wire.Frame(chain.Devnet.Magic, "verack", nil)},
		{"cut short", frameOf(t, &wire.MsgPing{})[:40]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := startNode(t, newChain(t), nil, quietConfig())
			r := dialRaw(t, a.addr, hostileHost)
			r.write(tt.bytes)
			r.conn.(*net.TCPConn).CloseWrite() // ends the frame cut short
			if closed, after := r.closed(3 * time.Second); !closed {
				t.Fatalf("still connected after %s", after)
			}
			for k, got := range trafficOf(t, a.Server) {
				if k.direction == "received" && (got.Messages != 0 || got.Bytes != 0) {
					t.Errorf("%s received: %d messages, %d bytes", k.command, got.Messages, got.Bytes)
				}
			}
		})
	}
}
