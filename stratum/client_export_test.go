package stratum

import "time"

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
