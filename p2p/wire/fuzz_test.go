package wire

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// Every byte a peer sends goes through ReadMessage and the payload decoders
// before anything else looks at it. Beyond never panicking, each decoder
// must be canonical: a payload it accepts re-encodes to exactly the same
// bytes, so a message has one encoding and what we relay is what we got.
// Seed corpora built from real messages (a version, an addr with two
// entries, getheaders with a real locator, headers and a block from regtest,
// signed transfers and a coinbase, inventories of blocks and transactions)
// live in testdata/fuzz.

// fuzzPayload fuzzes the payload decoder of the messages mk makes.
func fuzzPayload(f *testing.F, mk func() Message) {
	f.Fuzz(func(t *testing.T, in []byte) {
		m := mk()
		if uint32(len(in)) > m.maxPayload() {
			// ReadMessage refuses these before decoding.
			return
		}
		if err := decodePayload(m, in); err != nil {
			return
		}
		if out := payloadOf(m); !bytes.Equal(out, in) {
			t.Fatalf("%s decoded as %+v re-encodes to\n%x\nnot the input\n%x", m.Command(), m, out, in)
		}
	})
}

func FuzzMsgVersion(f *testing.F) { fuzzPayload(f, func() Message { return new(MsgVersion) }) }

// FuzzMsgPing covers pong too: it is a ping with another command.
func FuzzMsgPing(f *testing.F) { fuzzPayload(f, func() Message { return new(MsgPing) }) }

func FuzzMsgAddr(f *testing.F) { fuzzPayload(f, func() Message { return new(MsgAddr) }) }

// FuzzMsgInv covers getdata and notfound, which share inv's payload.
func FuzzMsgInv(f *testing.F) { fuzzPayload(f, func() Message { return new(MsgInv) }) }

func FuzzMsgGetHeaders(f *testing.F) { fuzzPayload(f, func() Message { return new(MsgGetHeaders) }) }

func FuzzMsgHeaders(f *testing.F) { fuzzPayload(f, func() Message { return new(MsgHeaders) }) }

func FuzzMsgBlock(f *testing.F) { fuzzPayload(f, func() Message { return new(MsgBlock) }) }

func FuzzMsgTx(f *testing.F) { fuzzPayload(f, func() Message { return new(MsgTx) }) }

// FuzzReadMessage feeds whole streams: whatever the bytes, ReadMessage
// returns a message, ErrMalformed or an I/O error of the stream ending, and
// a frame it accepts is exactly the frame WriteMessage writes for the
// message. Its allocation is bounded by the command's maxPayload, checked
// before the payload is read.
func FuzzReadMessage(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		m, err := ReadMessage(r, magic)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, errWrongNetwork) && err != io.EOF && err != io.ErrUnexpectedEOF {
				t.Fatalf("ReadMessage: %v, want ErrMalformed, errWrongNetwork or the end of the stream", err)
			}
			return
		}
		read := in[:len(in)-r.Len()]
		if out := encodeFrame(t, m); !bytes.Equal(out, read) {
			t.Fatalf("%s frame re-encodes to\n%x\nnot the input\n%x", m.Command(), out, read)
		}
	})
}
