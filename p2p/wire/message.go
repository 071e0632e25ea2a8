// Package wire is the peer protocol's bytes: frames, and one file per family
// of messages (handshake, ping, addresses, inventory, blocks and sync,
// transactions). It decides nothing: what a node does with a message is
// package p2p's. ../README.md describes every frame and payload.
package wire

import (
	"bytes"
	"maps"
	"slices"
)

// ProtocolVersion is the version this node speaks.
const ProtocolVersion = 1

// Message is one P2P message. Only this package's types are messages, so a
// message read is always one a node knows how to handle.
type Message interface {
	Command() string
	// maxPayload bounds the encoded payload; a frame announcing more is
	// refused before its payload is read.
	maxPayload() uint32
	encode(w *bytes.Buffer)
	decode(r *bytes.Reader) error
}

// messages makes an empty message of each command, for ReadMessage to
// decode into.
var messages = map[string]func() Message{
	"version":    func() Message { return new(MsgVersion) },
	"verack":     func() Message { return new(MsgVerAck) },
	"ping":       func() Message { return new(MsgPing) },
	"pong":       func() Message { return new(MsgPong) },
	"getaddr":    func() Message { return new(MsgGetAddr) },
	"addr":       func() Message { return new(MsgAddr) },
	"inv":        func() Message { return new(MsgInv) },
	"getdata":    func() Message { return new(MsgGetData) },
	"notfound":   func() Message { return new(MsgNotFound) },
	"getheaders": func() Message { return new(MsgGetHeaders) },
	"headers":    func() Message { return new(MsgHeaders) },
	"block":      func() Message { return new(MsgBlock) },
	"tx":         func() Message { return new(MsgTx) },
	"mempool":    func() Message { return new(MsgMempool) },
}

// Commands lists every command the protocol defines, sorted: a fixed set,
// so counters kept per command cannot be grown by a peer.
func Commands() []string { return slices.Sorted(maps.Keys(messages)) }
