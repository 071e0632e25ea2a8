package p2p

import (
	"errors"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashforge/hashforge/chain"
)

// Connect refuses what it cannot dial and a banned host, and dials the
// rest at once, as it does a -k peer.
func TestConnect(t *testing.T) {
	t.Parallel()
	a := startNode(t, newChain(t), nil, testConfig())
	b := startNode(t, newChain(t), nil, testConfig())
	if _, err := a.Ban(hostileHost, 0); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, addr string
		want       error
	}{
		{"empty", "", ErrBadAddress},
		{"no port", "127.0.0.1", ErrBadAddress},
		{"no host", ":8333", ErrBadAddress},
		{"port 0", "127.0.0.1:0", ErrBadAddress},
		{"port over 65535", "127.0.0.1:65536", ErrBadAddress},
		{"negative port", "127.0.0.1:-1", ErrBadAddress},
		{"port by name", "127.0.0.1:http", ErrBadAddress},
		{"banned host", hostileHost + ":8333", ErrBanned},
		{"banned host as IPv4-mapped IPv6", "[::ffff:" + hostileHost + "]:8333", ErrBanned},
	}
	for _, tt := range tests {
		if err := a.Connect(tt.addr); !errors.Is(err, tt.want) {
			t.Errorf("%s: Connect(%q) = %v, want %v", tt.name, tt.addr, err, tt.want)
		}
	}
	a.mu.Lock()
	known := len(a.addrs)
	a.mu.Unlock()
	if known != 0 {
		t.Errorf("refused addresses were remembered: %d known", known)
	}

	events, cancel := a.SubscribePeers()
	defer cancel()
	start := time.Now()
	if err := a.Connect(b.addr); err != nil {
		t.Fatalf("Connect(%s): %v", b.addr, err)
	}
	ev := nextEvent(t, events)
	if ev.Kind != "joined" || ev.Peer.Addr != b.addr || ev.Peer.Direction != "outbound" {
		t.Errorf("event %+v, want outbound %s joined", ev, b.addr)
	}
	// Dialled at the next dial round, every 500 ms: not after a backoff.
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("connected %s after Connect", took.Round(time.Millisecond))
	}
	a.mu.Lock()
	pinned := a.addrs[b.addr].pinned
	a.mu.Unlock()
	if !pinned {
		t.Errorf("an address given to Connect is not kept as a -k one")
	}
	if err := a.Connect(b.addr); err != nil {
		t.Errorf("Connect to a connected peer: %v", err)
	}

	// A stopped server only remembers.
	a.stop()
	c := startNode(t, newChain(t), nil, testConfig())
	if err := a.Connect(c.addr); err != nil {
		t.Errorf("Connect after Run: %v", err)
	}
	time.Sleep(time.Second)
	if n := c.accepts.Load(); n != 0 {
		t.Errorf("a stopped server dialled: %d connections", n)
	}
}

// Our own address, once a dial found it to be ours, is refused; the first
// time it is dialled and found out as any self-connection is.
func TestConnectSelf(t *testing.T) {
	t.Parallel()
	a := startNode(t, newChain(t), nil, testConfig())
	if err := a.Connect(a.addr); err != nil {
		t.Fatalf("Connect to our own address, not yet known as ours: %v", err)
	}
	waitFor(t, 5*time.Second, "the self dial", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.addrs[a.addr].self
	})
	if err := a.Connect(a.addr); !errors.Is(err, ErrBadAddress) {
		t.Errorf("Connect to our own address: %v, want ErrBadAddress", err)
	}
	if n := a.readyPeers(); n != 0 {
		t.Errorf("%d ready peers, want none", n)
	}
}

// Peers that stop talking are dropped on a timer: before the handshake
// after HandshakeTimeout, after it when silent for IdleTimeout (the
// server's pings do not count: only what the peer sends does). Silence is
// not misbehaviour: the host is not banned.
func TestSilentPeerDropped(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		handshake bool
		timeout   func(Config) time.Duration
	}{
		{"no version", false, func(c Config) time.Duration { return c.HandshakeTimeout }},
		{"silent after the handshake", true, func(c Config) time.Duration { return c.IdleTimeout }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig()
			a := startNode(t, newChain(t), nil, cfg)
			r := dialRaw(t, a.addr, "127.0.0.1")
			if tt.handshake {
				r.handshake(rawVersion(chain.Regtest))
				waitFor(t, 2*time.Second, "ready", func() bool { return a.readyPeers() == 1 })
			}
			want := tt.timeout(cfg)
			closed, after := r.closed(want + 3*time.Second)
			if !closed {
				t.Fatalf("still connected after %s", after)
			}
			if after < want-250*time.Millisecond {
				t.Errorf("dropped after %s, before the %s timeout", after, want)
			}
			if a.banned("127.0.0.1") || refused(t, a.addr, "127.0.0.1") {
				t.Errorf("a silent peer's host was banned")
			}
		})
	}
}

// A node whose peer book holds A's address reconnects to A after a restart
// without being told to, and catches up with what A mined meanwhile.
func TestRestartReconnectsFromPeerBook(t *testing.T) {
	t.Parallel()
	a := startNode(t, newChain(t), nil, testConfig())
	dir := t.TempDir()
	bch, bst := openChain(t, chain.Regtest, dir)
	cfg := testConfig()
	cfg.Connect = []string{a.addr}
	b := startNode(t, bch, bst, cfg)
	waitFor(t, 5*time.Second, "handshake", func() bool { return b.readyPeers() == 1 })
	// The book is written on the handshake of an outbound peer.
	waitFor(t, 2*time.Second, "A in the peer book", func() bool {
		book, err := bst.Peers()
		return err == nil && slices.Contains(book, a.addr)
	})
	b.stop()
	if err := bst.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "A to drop B", func() bool { return a.readyPeers() == 0 })
	mine(t, a.ch, 3)

	bch, bst = openChain(t, chain.Regtest, dir)
	b = startNode(t, bch, bst, testConfig())
	waitFor(t, 5*time.Second, "B to reconnect from its peer book", func() bool { return b.readyPeers() == 1 && a.readyPeers() == 1 })
	waitTip(t, 5*time.Second, b, a)
}

func TestAcceptRetry(t *testing.T) {
	t.Parallel()
	var got []time.Duration
	wait := time.Duration(0)
	for range 10 {
		wait = acceptRetry(wait)
		got = append(got, wait)
	}
	ms := time.Millisecond
	want := []time.Duration{5 * ms, 10 * ms, 20 * ms, 40 * ms, 80 * ms, 160 * ms, 320 * ms, 640 * ms, time.Second, time.Second}
	if !slices.Equal(got, want) {
		t.Errorf("waits %v, want %v", got, want)
	}
}

// failingListener fails the next fail calls of Accept with EMFILE, as a
// process out of descriptors does.
type failingListener struct {
	net.Listener
	fail atomic.Int32
}

func (l *failingListener) Accept() (net.Conn, error) {
	if l.fail.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

// Accept errors (out of descriptors) pause the accept loop, never end it:
// a peer connects once they pass, and each burst of errors is logged once.
func TestAcceptSurvivesErrors(t *testing.T) {
	t.Parallel()
	logged := make(logLines, 1000)
	fl := &failingListener{}
	fl.fail.Store(8) // 5 ms doubling: 1.3 s of waits
	a := startNodeOn(t, newChain(t), nil, testConfig(), slog.New(slog.NewTextHandler(logged, nil)),
		func(ln net.Listener) net.Listener { fl.Listener = ln; return fl })
	start := time.Now()
	dialReady(t, a.addr, "127.0.0.1").roundTrip()
	if took := time.Since(start); took < time.Second {
		t.Errorf("a peer joined %s after start, before the errors' waits passed", took)
	}
	fl.fail.Store(3) // the next Accept, after the one a peer returns from
	dialReady(t, a.addr, "127.0.0.1").roundTrip()
	dialReady(t, a.addr, "127.0.0.1").roundTrip()
	a.stop()
	var log strings.Builder
	for len(logged) > 0 {
		log.WriteString(<-logged)
	}
	for msg, want := range map[string]int{`msg="p2p accept failing; retrying"`: 2, `msg="p2p accept recovered" failures=8`: 1, `msg="p2p accept recovered" failures=3`: 1} {
		if got := strings.Count(log.String(), msg); got != want {
			t.Errorf("%d lines with %s, want %d; log:\n%s", got, msg, want, log.String())
		}
	}
}
