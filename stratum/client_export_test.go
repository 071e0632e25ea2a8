package stratum

import (
	"log/slog"
	"net"
	"time"
)

// SetTimings shortens the client's waits so a test sees failover, returns
// and reconnects in well under a second; call it before Run.
func (c *Client) SetTimings(backoff, recheck, silence time.Duration) {
	c.t.backoffFirst, c.t.backoffMost = backoff, 4*backoff
	c.t.recheck, c.t.silence = recheck, silence
	c.t.handshake = 5 * time.Second
}

// RejectReason is rejectReason for the table of pool refusals.
func RejectReason(err error) string { return rejectReason(err) }

// DecodeRPCError is decodeRPCError, for the table of error shapes.
func DecodeRPCError(raw []byte) error { return decodeRPCError(raw) }

// LineHandler returns what a connected session does with one line of its
// pool, for the fuzz test: a session subscribed and authorized, over a pipe
// nobody reads, its answers dropped once its queue is full.
func LineHandler() func(line []byte) {
	c, _ := NewClient(ClientConfig{Pools: []string{"tcp://127.0.0.1:1"}, User: "u"}, slog.New(slog.DiscardHandler))
	a, _ := net.Pipe()
	s := &clientSession{c: c, url: "fuzz", conn: a, out: make(chan []byte, 4), stop: func(error) {},
		pending: map[uint64]pendingCall{}, lastJob: time.Now(), diff: 1,
		en1: []byte{0, 0, 0, 0}, en2Size: 4, mask: clientVersionMask, authed: true}
	return func(line []byte) {
		s.handle(line)
		// Drain what the miner would take.
		select {
		case j := <-c.jobs:
			if j, ok := j.(*PoolWork); ok {
				j.Work(0)
				j.Work(1 << 20)
			}
		default:
		}
	}
}
