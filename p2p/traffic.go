package p2p

import (
	"io"
	"sync/atomic"

	"github.com/hashforge/hashforge/p2p/wire"
)

// Traffic is what crossed the wire for one command in one direction since
// the server started.
type Traffic struct {
	Command   string
	Direction string // "received" or "sent"
	Messages  uint64
	Bytes     uint64 // whole frames: header and payload
}

// Directions of traffic, in the order Traffic lists them.
const (
	received = iota
	sent
)

var directions = [...]string{received: "received", sent: "sent"}

// commands lists every command the protocol defines, sorted: the rows of
// the traffic counters, fixed at start-up, so the metrics built on them
// have every series from the start and a peer cannot add a label.
var commands = wire.Commands()

// commandIndex is each command's row in commands.
var commandIndex = func() map[string]int {
	idx := make(map[string]int, len(commands))
	for i, c := range commands {
		idx[c] = i
	}
	return idx
}()

// trafficCounter counts one command in one direction.
type trafficCounter struct {
	messages, bytes atomic.Uint64
}

// trafficStats holds a counter per command and direction. Every message
// read or written adds to one with two atomic adds: no lock, no allocation.
type trafficStats [][len(directions)]trafficCounter

func newTrafficStats() trafficStats { return make(trafficStats, len(commands)) }

// add counts one frame of command of size bytes in direction dir.
func (t trafficStats) add(dir int, command string, size int) {
	// Only messages the protocol defines are read or written, so command
	// has a row; the check keeps a future slip from counting under another.
	i, ok := commandIndex[command]
	if !ok {
		return
	}
	c := &t[i][dir]
	c.messages.Add(1)
	c.bytes.Add(uint64(size))
}

// Traffic returns the messages and bytes received and sent for every
// command the protocol defines, zeros included, sorted by command, then
// direction. Only frames that read as a message count: a frame with
// another network's magic, an unknown command or a malformed payload, or
// one cut short, counts nowhere. Such a frame ends its connection (a
// malformed one bans the peer), so at most one per connection goes
// uncounted, and no peer can make a command up.
func (s *Server) Traffic() []Traffic {
	out := make([]Traffic, 0, len(commands)*len(directions))
	for i, cmd := range commands {
		for dir, name := range directions {
			c := &s.traffic[i][dir]
			out = append(out, Traffic{Command: cmd, Direction: name, Messages: c.messages.Load(), Bytes: c.bytes.Load()})
		}
	}
	return out
}

// countingReader counts the bytes read through it: wire.ReadMessage reads
// exactly one frame, so the count taken around it is the frame's size
// without the wire format having to report it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += n
	return n, err
}

// countingWriter counts the bytes written through it, as countingReader
// counts those read.
type countingWriter struct {
	w io.Writer
	n int
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += n
	return n, err
}
