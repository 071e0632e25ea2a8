package wire

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/hashforge/hashforge/chain"
)

// encodeFrame is m as WriteMessage frames it.
func encodeFrame(t testing.TB, m Message) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := WriteMessage(&b, magic, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// The frame layout is the protocol: these bytes are what another
// implementation must produce, so they are written out rather than computed.
func TestFrameGolden(t *testing.T) {
	tests := []struct {
		name string
		m    Message
		want string
	}{
		{"verack", &MsgVerAck{}, "fabfb5da" + // regtest magic
			"76657261636b000000000000" + // "verack", NUL-padded to 12
			"00000000" + // payload length
			"5df6e0e2"}, // SHA-256d of nothing, first 4 bytes
		{"ping", &MsgPing{Nonce: 0x0102030405060708, Tip: TipInfo{Height: 5, Hash: chain.Hash{0: 0xaa, 31: 0xaa}, Work: [32]byte{31: 1}}},
			"fabfb5da" +
				"70696e670000000000000000" + // "ping"
				"50000000" + // 80 bytes
				"6eee0f08" + // checksum
				"0807060504030201" + // nonce, little-endian
				"0500000000000000" + // tip height, little-endian
				"aa" + strings.Repeat("00", 30) + "aa" + // tip hash, as computed
				strings.Repeat("00", 31) + "01"}, // cumulative work, big-endian
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := hex.EncodeToString(encodeFrame(t, tt.m)); got != tt.want {
				t.Errorf("frame\n%s\nwant\n%s", got, tt.want)
			}
			want, _ := hex.DecodeString(tt.want)
			got, err := ReadMessage(bytes.NewReader(want), magic)
			if err != nil || !reflect.DeepEqual(got, tt.m) {
				t.Errorf("golden frame reads as %+v, %v", got, err)
			}
		})
	}
}

// failingReader stands for a payload the reader must never ask for.
type failingReader struct{}

var errPayloadRead = errors.New("payload was read")

func (failingReader) Read([]byte) (int, error) { return 0, errPayloadRead }

// A frame announcing more than its command's maxPayload is refused on its
// header alone: a peer cannot make us allocate or wait for the bytes.
func TestOversizedFrameRefusedBeforePayload(t *testing.T) {
	tests := []struct {
		cmd  string
		size uint32
	}{
		{"verack", 1},
		{"getaddr", 1},
		{"mempool", 1},
		{"version", (&MsgVersion{}).maxPayload() + 1},
		{"ping", (&MsgPing{}).maxPayload() + 1},
		{"addr", (&MsgAddr{}).maxPayload() + 1},
		{"inv", (&MsgInv{}).maxPayload() + 1},
		{"getheaders", (&MsgGetHeaders{}).maxPayload() + 1},
		{"headers", (&MsgHeaders{}).maxPayload() + 1},
		{"block", chain.MaxBlockSize + 1},
		{"block", 1<<32 - 1},
		{"tx", maxTxPayload + 1},
	}
	for _, tt := range tests {
		hdr := Frame(magic, tt.cmd, nil)
		binary.LittleEndian.PutUint32(hdr[16:], tt.size)
		_, err := ReadMessage(io.MultiReader(bytes.NewReader(hdr), failingReader{}), magic)
		if errors.Is(err, errPayloadRead) {
			t.Errorf("%s of %d bytes: the payload was read before the size was checked", tt.cmd, tt.size)
		} else if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s of %d bytes: %v, want ErrMalformed", tt.cmd, tt.size, err)
		}
	}
}

// list is a list payload: a count, then items, as the encoder writes it.
func list(count uint32, items ...[]byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, count)
	for _, it := range items {
		b = append(b, it...)
	}
	return b
}

func TestReadMessageRejects(t *testing.T) {
	verack := Frame(magic, "verack", nil)
	badSum := Frame(magic, "ping", payloadOf(&MsgPing{Nonce: 1}))
	badSum[20] ^= 1
	addr := payloadOf(&MsgAddr{Addrs: []NetAddr{{Port: 1}}})
	inv := payloadOf(NewMsgInv([]InvItem{{Type: InvBlock}}))
	block := chain.Regtest.Genesis.Bytes()
	header := chain.Regtest.Genesis.Header.Bytes()
	tx := transfer(0, 1, nil).Bytes()

	tests := []struct {
		name  string
		frame []byte
		want  error
	}{
		// Another network is not an attack: it drops the peer without a ban.
		{"wrong magic", Frame(chain.Devnet.Magic, "verack", nil), errWrongNetwork},
		{"unknown command", Frame(magic, "getblocks", nil), nil},
		{"empty command", Frame(magic, "", nil), nil},
		{"bytes after the NUL padding", append(append(append([]byte(nil), verack[:10]...), 0, 'x'), verack[12:]...), nil},
		{"command in upper case", Frame(magic, "VERACK", nil), nil},
		{"bad checksum", badSum, nil},
		{"version short", Frame(magic, "version", payloadOf(&MsgVersion{})[:100]), nil},
		{"ping short", Frame(magic, "ping", make([]byte, 79)), nil},
		{"addr trailing byte", Frame(magic, "addr", append(addr, 0)), nil},
		{"addr count above entries", Frame(magic, "addr", list(2, addr[4:])), nil},
		{"addr count over MaxAddrs", Frame(magic, "addr", list(MaxAddrs+1)), nil},
		{"inv trailing byte", Frame(magic, "inv", append(inv, 0)), nil},
		{"inv count over MaxInvItems", Frame(magic, "inv", list(MaxInvItems+1)), nil},
		{"getdata count over MaxInvItems", Frame(magic, "getdata", list(MaxInvItems+1)), nil},
		{"notfound count over MaxInvItems", Frame(magic, "notfound", list(MaxInvItems+1)), nil},
		{"inv count of 2^32-1", Frame(magic, "inv", list(1<<32-1)), nil},
		{"getheaders locator over MaxLocator", Frame(magic, "getheaders", list(MaxLocator+1)), nil},
		{"getheaders without stop", Frame(magic, "getheaders", list(0)), nil},
		{"getheaders trailing byte", Frame(magic, "getheaders", append(list(0, make([]byte, 32)), 0)), nil},
		{"headers count over MaxHeaders", Frame(magic, "headers", list(chain.MaxHeaders+1)), nil},
		{"headers trailing byte", Frame(magic, "headers", list(1, header[:], []byte{0})), nil},
		{"empty block", Frame(magic, "block", nil), nil},
		{"block trailing byte", Frame(magic, "block", append(append([]byte(nil), block...), 0)), nil},
		{"block truncated", Frame(magic, "block", block[:len(block)-1]), nil},
		{"empty tx", Frame(magic, "tx", nil), nil},
		{"tx trailing byte", Frame(magic, "tx", append(append([]byte(nil), tx...), 0)), nil},
		{"tx truncated", Frame(magic, "tx", tx[:len(tx)-1]), nil},
		{"tx of unknown kind", Frame(magic, "tx", append([]byte{7}, tx[1:]...)), nil},
		{"two txs", Frame(magic, "tx", append(append([]byte(nil), tx...), tx...)), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want
			if want == nil {
				want = ErrMalformed
			}
			m, err := ReadMessage(bytes.NewReader(tt.frame), magic)
			if !errors.Is(err, want) || want == errWrongNetwork && errors.Is(err, ErrMalformed) {
				t.Errorf("ReadMessage = %v, %v; want %v", m, err, want)
			}
		})
	}
}

// A connection cut mid-frame is an I/O error, not a protocol fault: it must
// not read as ErrMalformed, which bans the peer's host. A short payload
// inside a whole frame is the opposite: malformed, never an I/O error.
func TestReadMessageIOErrors(t *testing.T) {
	full := encodeFrame(t, &MsgPing{Nonce: 3})
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"nothing", nil, io.EOF},
		{"part of a header", full[:10], io.ErrUnexpectedEOF},
		{"header only", full[:frameHeaderSize], io.EOF},
		{"part of a payload", full[:frameHeaderSize+5], io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		_, err := ReadMessage(bytes.NewReader(tt.in), magic)
		if !errors.Is(err, tt.want) || errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	_, err := ReadMessage(bytes.NewReader(Frame(magic, "ping", make([]byte, 79))), magic)
	if !errors.Is(err, ErrMalformed) || errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("a whole frame with a short ping payload: %v, want ErrMalformed alone", err)
	}
}

// Frames follow each other on a stream with nothing between them.
func TestReadMessageStream(t *testing.T) {
	var stream bytes.Buffer
	sent := []Message{&MsgVerAck{}, &MsgPing{Nonce: 1}, &MsgGetAddr{}, &MsgBlock{Block: chain.Regtest.Genesis}}
	for _, m := range sent {
		if err := WriteMessage(&stream, magic, m); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range sent {
		got, err := ReadMessage(&stream, magic)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("read %+v, %v; want %+v", got, err, want)
		}
	}
	if _, err := ReadMessage(&stream, magic); err != io.EOF {
		t.Errorf("after the last frame: %v, want io.EOF", err)
	}
}
