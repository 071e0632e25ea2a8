package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/hashforge/hashforge/chain"
)

// Frame: magic (4) | command (12, NUL-padded ASCII) | payload length (4) |
// checksum (4: first bytes of SHA-256d(payload)) | payload.
const (
	frameHeaderSize = 24
	commandSize     = 12
)

// ErrMalformed marks a frame or payload that breaks the protocol: the peer
// sending it is banned.
var ErrMalformed = errors.New("malformed message")

// errWrongNetwork marks a frame with another network's magic (or none): the
// peer is dropped, not banned, since on one machine a node of another
// network would otherwise get the whole host banned.
var errWrongNetwork = errors.New("wrong network magic")

// Frame is the frame of command and payload, taken as they are: the length
// and checksum are payload's. WriteMessage sends what it returns; a test
// playing a hostile peer sends what no message encodes to (an unknown
// command, a payload that does not decode) or alters the bytes afterwards.
func Frame(magic [4]byte, command string, payload []byte) []byte {
	f := make([]byte, frameHeaderSize, frameHeaderSize+len(payload))
	copy(f, magic[:])
	copy(f[4:4+commandSize], command)
	binary.LittleEndian.PutUint32(f[16:], uint32(len(payload)))
	sum := chain.DoubleSHA256(payload)
	copy(f[20:], sum[:4])
	return append(f, payload...)
}

// WriteMessage frames and writes m in one write.
func WriteMessage(w io.Writer, magic [4]byte, m Message) error {
	var payload bytes.Buffer
	m.encode(&payload)
	_, err := w.Write(Frame(magic, m.Command(), payload.Bytes()))
	return err
}

// ReadMessage reads one framed message. Every fault of the frame or payload
// wraps ErrMalformed but a foreign magic, which is no fault (see
// errWrongNetwork); I/O errors are returned as they are.
func ReadMessage(r io.Reader, magic [4]byte) (Message, error) {
	var hdr [frameHeaderSize]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	if !bytes.Equal(hdr[:4], magic[:]) {
		return nil, fmt.Errorf("%w: %x", errWrongNetwork, hdr[:4])
	}
	name := string(bytes.TrimRight(hdr[4:16], "\x00"))
	mk, ok := messages[name]
	if !ok {
		return nil, fmt.Errorf("%w: unknown command %q", ErrMalformed, name)
	}
	m := mk()
	size := binary.LittleEndian.Uint32(hdr[16:])
	if size > m.maxPayload() {
		return nil, fmt.Errorf("%w: %s payload of %d bytes exceeds %d", ErrMalformed, name, size, m.maxPayload())
	}
	payload := make([]byte, size)
	if _, err := io.ReadFull(r, payload); err != nil {
		return nil, err
	}
	if sum := chain.DoubleSHA256(payload); !bytes.Equal(sum[:4], hdr[20:24]) {
		return nil, fmt.Errorf("%w: %s checksum mismatch", ErrMalformed, name)
	}
	if err := decodePayload(m, payload); err != nil {
		// %v, not %w: a short payload fails with io.ErrUnexpectedEOF, which
		// must not read as a connection cut mid-frame.
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, name, err)
	}
	return m, nil
}

// decodePayload decodes the whole payload into m; trailing bytes are an error.
func decodePayload(m Message, payload []byte) error {
	r := bytes.NewReader(payload)
	if err := m.decode(r); err != nil {
		return err
	}
	if r.Len() != 0 {
		return fmt.Errorf("%d trailing bytes", r.Len())
	}
	return nil
}
