package p2p

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

var magic = chain.Regtest.Magic

// frame builds a frame by hand, with the length and checksum of payload, so
// tests can send frames WriteMessage would never write.
func frame(magic [4]byte, command string, payload []byte) []byte {
	b := append([]byte(nil), magic[:]...)
	var cmd [commandSize]byte
	copy(cmd[:], command)
	b = append(b, cmd[:]...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(payload)))
	sum := chain.DoubleSHA256(payload)
	b = append(b, sum[:4]...)
	return append(b, payload...)
}

// payloadOf is m's encoded payload.
func payloadOf(m Message) []byte {
	var b bytes.Buffer
	m.encode(&b)
	return b.Bytes()
}

// encodeFrame is m as WriteMessage frames it.
func encodeFrame(t testing.TB, m Message) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := WriteMessage(&b, magic, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// sampleMessages holds one message of every type with every field set, and
// lists at their limits: a limit the encoder can reach must decode.
func sampleMessages(t testing.TB) map[string]Message {
	tip := TipInfo{Height: 1 << 40, Hash: chain.Hash{1, 2, 3}, Work: [32]byte{31: 7}}
	addrs := make([]NetAddr, MaxAddrs)
	for i := range addrs {
		addrs[i] = NetAddr{Port: uint16(i + 1), LastSeen: int64(i) << 33}
		copy(addrs[i].IP[:], []byte{10: 0xff, 11: 0xff, 12: 10, 13: byte(i >> 8), 14: byte(i), 15: 1})
	}
	items := make([]InvItem, MaxInvItems)
	for i := range items {
		items[i] = InvItem{Type: InvBlock, Hash: chain.DoubleSHA256([]byte{byte(i), byte(i >> 8)})}
	}
	locator := make([]chain.Hash, MaxLocator)
	for i := range locator {
		locator[i] = chain.Hash{byte(i), 0xee}
	}
	headers := make([]chain.Header, chain.MaxHeaders)
	for i := range headers {
		headers[i] = chain.Regtest.Genesis.Header
		headers[i].Nonce = uint32(i)
		headers[i].Version = -int32(i) // signed: the sign must survive
	}
	ch := newChain(t)
	mine(t, ch, 3)
	block, err := ch.Block(ch.Tip().Hash)
	if err != nil {
		t.Fatal(err)
	}
	txItems := make([]InvItem, 3)
	for i, tx := range transfers(len(txItems)) {
		txItems[i] = InvItem{Type: InvTx, Hash: tx.Hash()}
	}
	return map[string]Message{
		"version":             &MsgVersion{Protocol: ProtocolVersion, Genesis: chain.Regtest.GenesisHash(), NodeID: 0xfeedface12345678, ListenPort: 18999, Tip: tip},
		"verack":              &MsgVerAck{},
		"ping":                &MsgPing{Nonce: 1<<64 - 1, Tip: tip},
		"pong":                &MsgPong{MsgPing{Nonce: 42, Tip: tip}},
		"getaddr":             &MsgGetAddr{},
		"addr":                &MsgAddr{Addrs: addrs[:2]},
		"addr empty":          &MsgAddr{Addrs: []NetAddr{}},
		"addr full":           &MsgAddr{Addrs: addrs},
		"inv":                 &MsgInv{invList{Items: items[:1]}},
		"inv full":            &MsgInv{invList{Items: items}},
		"getdata":             &MsgGetData{invList{Items: items[:3]}},
		"notfound":            &MsgNotFound{invList{Items: []InvItem{{Type: 99, Hash: chain.Hash{9}}}}},
		"getheaders":          &MsgGetHeaders{Locator: ch.Locator(), Stop: chain.Hash{0xff}},
		"getheaders full":     &MsgGetHeaders{Locator: locator},
		"headers":             &MsgHeaders{Headers: []chain.Header{chain.Regtest.Genesis.Header, block.Header}},
		"headers full":        &MsgHeaders{Headers: headers},
		"block":               &MsgBlock{Block: block},
		"block regtest gen.":  &MsgBlock{Block: chain.Regtest.Genesis},
		"tx":                  &MsgTx{Tx: transfer(7, chain.Coin, nil)},
		"tx largest transfer": &MsgTx{Tx: transfer(1<<64-1, chain.MaxMoney/2, bytes.Repeat([]byte{'m'}, chain.MaxMemo))},
		"tx coinbase":         &MsgTx{Tx: block.Txs[0]},
		"inv of transactions": &MsgInv{invList{Items: txItems}},
		"mempool":             &MsgMempool{},
	}
}

func TestMessageRoundTrip(t *testing.T) {
	msgs := sampleMessages(t)
	// Every registered command needs a sample, so a new message type cannot
	// go untested.
	for cmd := range messages {
		if _, ok := msgs[cmd]; !ok {
			t.Errorf("no sample of %q", cmd)
		}
	}
	for name, m := range msgs {
		t.Run(name, func(t *testing.T) {
			enc := encodeFrame(t, m)
			if size := len(enc) - frameHeaderSize; uint32(size) > m.MaxPayload() {
				t.Fatalf("payload of %d bytes exceeds its own MaxPayload %d: peers would ban us", size, m.MaxPayload())
			}
			r := bytes.NewReader(enc)
			got, err := ReadMessage(r, magic)
			if err != nil {
				t.Fatalf("ReadMessage: %v", err)
			}
			if r.Len() != 0 {
				t.Errorf("%d bytes of the frame left unread", r.Len())
			}
			if got.Command() != m.Command() {
				t.Errorf("command %q, want %q", got.Command(), m.Command())
			}
			if !reflect.DeepEqual(got, m) {
				t.Errorf("decoded %+v\nwant %+v", got, m)
			}
		})
	}
}

// Fixed-size messages are exactly their MaxPayload: a smaller limit would
// ban every honest peer, a larger one would let a frame carry trailing bytes
// past the size check.
func TestFixedSizeMessages(t *testing.T) {
	for _, m := range []Message{&MsgVersion{}, &MsgPing{}, &MsgPong{}, &MsgVerAck{}, &MsgGetAddr{}, &MsgMempool{}} {
		if got := len(payloadOf(m)); uint32(got) != m.MaxPayload() {
			t.Errorf("%s: payload of %d bytes, MaxPayload %d", m.Command(), got, m.MaxPayload())
		}
	}
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

// A frame announcing more than its command's MaxPayload is refused on its
// header alone: a peer cannot make us allocate or wait for the bytes.
func TestOversizedFrameRefusedBeforePayload(t *testing.T) {
	tests := []struct {
		cmd  string
		size uint32
	}{
		{"verack", 1},
		{"getaddr", 1},
		{"mempool", 1},
		{"version", (&MsgVersion{}).MaxPayload() + 1},
		{"ping", (&MsgPing{}).MaxPayload() + 1},
		{"addr", (&MsgAddr{}).MaxPayload() + 1},
		{"inv", (&MsgInv{}).MaxPayload() + 1},
		{"getheaders", (&MsgGetHeaders{}).MaxPayload() + 1},
		{"headers", (&MsgHeaders{}).MaxPayload() + 1},
		{"block", chain.MaxBlockSize + 1},
		{"block", 1<<32 - 1},
		{"tx", maxTxPayload + 1},
	}
	for _, tt := range tests {
		hdr := frame(magic, tt.cmd, nil)
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
	verack := frame(magic, "verack", nil)
	badSum := frame(magic, "ping", payloadOf(&MsgPing{Nonce: 1}))
	badSum[20] ^= 1
	addr := payloadOf(&MsgAddr{Addrs: []NetAddr{{Port: 1}}})
	inv := payloadOf(&MsgInv{invList{Items: []InvItem{{Type: InvBlock}}}})
	block := chain.Regtest.Genesis.Bytes()
	header := chain.Regtest.Genesis.Header.Bytes()
	tx := transfer(0, 1, nil).Bytes()

	tests := []struct {
		name  string
		frame []byte
		want  error
	}{
		// Another network is not an attack: it drops the peer without a ban.
		{"wrong magic", frame(chain.Devnet.Magic, "verack", nil), ErrWrongNetwork},
		{"unknown command", frame(magic, "getblocks", nil), nil},
		{"empty command", frame(magic, "", nil), nil},
		{"bytes after the NUL padding", append(append(append([]byte(nil), verack[:10]...), 0, 'x'), verack[12:]...), nil},
		{"command in upper case", frame(magic, "VERACK", nil), nil},
		{"bad checksum", badSum, nil},
		{"version short", frame(magic, "version", payloadOf(&MsgVersion{})[:100]), nil},
		{"ping short", frame(magic, "ping", make([]byte, 79)), nil},
		{"addr trailing byte", frame(magic, "addr", append(addr, 0)), nil},
		{"addr count above entries", frame(magic, "addr", list(2, addr[4:])), nil},
		{"addr count over MaxAddrs", frame(magic, "addr", list(MaxAddrs+1)), nil},
		{"inv trailing byte", frame(magic, "inv", append(inv, 0)), nil},
		{"inv count over MaxInvItems", frame(magic, "inv", list(MaxInvItems+1)), nil},
		{"getdata count over MaxInvItems", frame(magic, "getdata", list(MaxInvItems+1)), nil},
		{"notfound count over MaxInvItems", frame(magic, "notfound", list(MaxInvItems+1)), nil},
		{"inv count of 2^32-1", frame(magic, "inv", list(1<<32-1)), nil},
		{"getheaders locator over MaxLocator", frame(magic, "getheaders", list(MaxLocator+1)), nil},
		{"getheaders without stop", frame(magic, "getheaders", list(0)), nil},
		{"getheaders trailing byte", frame(magic, "getheaders", append(list(0, make([]byte, 32)), 0)), nil},
		{"headers count over MaxHeaders", frame(magic, "headers", list(chain.MaxHeaders+1)), nil},
		{"headers trailing byte", frame(magic, "headers", list(1, header[:], []byte{0})), nil},
		{"empty block", frame(magic, "block", nil), nil},
		{"block trailing byte", frame(magic, "block", append(append([]byte(nil), block...), 0)), nil},
		{"block truncated", frame(magic, "block", block[:len(block)-1]), nil},
		{"empty tx", frame(magic, "tx", nil), nil},
		{"tx trailing byte", frame(magic, "tx", append(append([]byte(nil), tx...), 0)), nil},
		{"tx truncated", frame(magic, "tx", tx[:len(tx)-1]), nil},
		{"tx of unknown kind", frame(magic, "tx", append([]byte{7}, tx[1:]...)), nil},
		{"two txs", frame(magic, "tx", append(append([]byte(nil), tx...), tx...)), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want
			if want == nil {
				want = ErrMalformed
			}
			m, err := ReadMessage(bytes.NewReader(tt.frame), magic)
			if !errors.Is(err, want) || want == ErrWrongNetwork && errors.Is(err, ErrMalformed) {
				t.Errorf("ReadMessage = %v, %v; want %v", m, err, want)
			}
		})
	}
}

// A connection cut mid-frame is an I/O error, not a protocol fault: it must
// not read as ErrMalformed, which bans the peer's host.
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

func TestNetAddrConversion(t *testing.T) {
	tests := []struct {
		addr string
		ok   bool
		back string // "" when the address is not shared
	}{
		{"127.0.0.1:18999", true, "127.0.0.1:18999"},
		{"[::1]:8999", true, "[::1]:8999"},
		{"[2001:db8::7]:1", true, "[2001:db8::7]:1"},
		{"localhost:8999", false, ""},  // only IP literals travel
		{"127.0.0.1:0", false, ""},     // port 0 does not listen
		{"127.0.0.1:65536", false, ""}, // not a port
		{"127.0.0.1", false, ""},       // no port
		{"0.0.0.0:8999", true, ""},     // converts, but nobody can dial it
		{"[::]:8999", true, ""},        // likewise
		{"10.1.2.3:65535", true, "10.1.2.3:65535"},
	}
	for _, tt := range tests {
		na, ok := toNetAddr(tt.addr)
		if ok != tt.ok {
			t.Errorf("toNetAddr(%q) ok = %v, want %v", tt.addr, ok, tt.ok)
			continue
		}
		if !ok {
			continue
		}
		if got := netAddrString(na); got != tt.back {
			t.Errorf("netAddrString(toNetAddr(%q)) = %q, want %q", tt.addr, got, tt.back)
		}
	}
}
