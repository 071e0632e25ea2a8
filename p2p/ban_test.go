package p2p

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/p2p/wire"
)

// A peer that breaks the protocol is dropped; the faults below discourage
// it too. A loopback host is every node on the machine, so a loopback peer
// is discouraged by its address alone and never banned: the next
// connection from the host is served.
func TestHostilePeer(t *testing.T) {
	t.Parallel()
	junk := make([]byte, 200)
	rand.Read(junk)
	junk[0] = ^magic[0]
	hugeBlock := wire.Frame(magic, "block", nil)
	hugeBlock[16], hugeBlock[17], hugeBlock[18], hugeBlock[19] = 0xff, 0xff, 0xff, 0xff
	badSum := frameOf(t, &wire.MsgPing{})
	badSum[23] ^= 0x80

	tests := []struct {
		name       string
		handshake  bool
		act        func(t *testing.T, r *rawPeer, a *node)
		discourage bool
	}{
		// Bytes without our magic may be another network: dropped, not discouraged.
		{"random bytes", false, func(t *testing.T, r *rawPeer, a *node) { r.write(junk) }, false},
		// Only the header goes out: a server that waited for 4 GiB of
		// payload would hold the connection until its handshake timeout.
		{"frame announcing 4 GiB", false, func(t *testing.T, r *rawPeer, a *node) { r.write(hugeBlock) }, true},
		{"unknown command", true, func(t *testing.T, r *rawPeer, a *node) { r.write(wire.Frame(magic, "getblocks", nil)) }, true},
		{"bad checksum", true, func(t *testing.T, r *rawPeer, a *node) { r.write(badSum) }, true},
		{"addr over wire.MaxAddrs", true, func(t *testing.T, r *rawPeer, a *node) {
			r.write(wire.Frame(magic, "addr", binary.LittleEndian.AppendUint32(nil, wire.MaxAddrs+1)))
		}, true},
		{"block with bad proof of work", true, func(t *testing.T, r *rawPeer, a *node) {
			r.send(&wire.MsgBlock{Block: searchNonce(t, nextBlock(a.ch, chain.Address{}), false)})
		}, true},
		{"block with bad merkle root", true, func(t *testing.T, r *rawPeer, a *node) {
			b := nextBlock(a.ch, chain.Address{})
			b.Header.MerkleRoot[0] ^= 1
			r.send(&wire.MsgBlock{Block: searchNonce(t, b, true)})
		}, true},
		{"block with a wrong coinbase height", true, func(t *testing.T, r *rawPeer, a *node) {
			b := nextBlock(a.ch, chain.Address{})
			b.Txs[0].Height++
			b.Header.MerkleRoot = chain.MerkleRoot(b.TxHashes())
			r.send(&wire.MsgBlock{Block: searchNonce(t, b, true)})
		}, true},
		// A transaction that breaks a consensus rule, whatever the state.
		{"transaction with a bad signature", true, func(t *testing.T, r *rawPeer, a *node) {
			tx := transfer(0, chain.Coin, nil)
			tx.Amount++
			r.send(&wire.MsgTx{Tx: tx})
		}, true},
		{"transaction with a memo over MaxMemo", true, func(t *testing.T, r *rawPeer, a *node) {
			r.send(&wire.MsgTx{Tx: transfer(0, chain.Coin, make([]byte, chain.MaxMemo+1))})
		}, true},
		{"transaction over the money supply", true, func(t *testing.T, r *rawPeer, a *node) {
			r.send(&wire.MsgTx{Tx: transfer(0, chain.MaxMoney+1, nil)})
		}, true},
		{"coinbase as a transaction", true, func(t *testing.T, r *rawPeer, a *node) {
			r.send(&wire.MsgTx{Tx: chain.NewCoinbase(2, chain.Address{}, 50*chain.Coin, 0)})
		}, true},
		// Protocol slips a buggy peer makes: dropped, not discouraged.
		{"getdata before the handshake", false, func(t *testing.T, r *rawPeer, a *node) {
			r.send(wire.NewMsgGetData([]wire.InvItem{{Type: wire.InvBlock, Hash: a.ch.Tip().Hash}}))
		}, false},
		{"verack before version", false, func(t *testing.T, r *rawPeer, a *node) { r.send(&wire.MsgVerAck{}) }, false},
		{"second version", true, func(t *testing.T, r *rawPeer, a *node) { r.send(rawVersion(chain.Regtest)) }, false},
		{"second verack", true, func(t *testing.T, r *rawPeer, a *node) { r.send(&wire.MsgVerAck{}) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Long timers: a close within a second is the server's
			// answer to the message, not a timeout.
			cfg := testConfig()
			cfg.HandshakeTimeout, cfg.IdleTimeout = 10*time.Second, 10*time.Second
			a := startNode(t, newChain(t), nil, cfg)
			mine(t, a.ch, 1)
			r := dialRaw(t, a.addr, hostileHost)
			if tt.handshake {
				r.handshake(rawVersion(chain.Regtest))
			}
			tt.act(t, r, a)
			if closed, after := r.closed(3 * time.Second); !closed {
				t.Fatalf("still connected after %s", after)
			}
			wantBans := uint64(0)
			if tt.discourage {
				wantBans = 1
			}
			if got := a.Bans(); got != wantBans {
				t.Errorf("Bans() = %d, want %d", got, wantBans)
			}
			// The raw peer does not listen: there is nothing to discourage.
			if got := a.Banned(); len(got) != 0 {
				t.Errorf("Banned() = %v, want none", got)
			}
			if a.banned(hostileHost) || refused(t, a.addr, hostileHost) {
				t.Errorf("the loopback host %s is banned", hostileHost)
			}
			// The server goes on serving other hosts.
			good := dialReady(t, a.addr, "127.0.0.1")
			good.roundTrip()
			if a.ch.Tip().Height != 1 {
				t.Errorf("the chain moved to height %d", a.ch.Tip().Height)
			}
		})
	}
}

// A loopback peer that listens is discouraged by its listen address: that
// address is dialled last, while the host's other nodes are served.
func TestLoopbackDiscouragedByListenAddr(t *testing.T) {
	t.Parallel()
	a := startNode(t, newChain(t), nil, quietConfig())
	r := dialRaw(t, a.addr, hostileHost)
	v := rawVersion(chain.Regtest)
	v.ListenPort = 8999
	r.handshake(v)
	r.write(wire.Frame(magic, "getblocks", nil))
	if closed, _ := r.closed(3 * time.Second); !closed {
		t.Fatal("still connected after an unknown command")
	}
	listen := hostileHost + ":8999"
	if got, want := a.banList(), []BanInfo{{Addr: listen, Kind: KindDiscouraged}}; !slices.Equal(got, want) {
		t.Errorf("Banned() = %v, want %v", got, want)
	}
	a.mu.Lock()
	discouraged := a.discouragedAddr(listen, a.addrs[listen])
	a.mu.Unlock()
	if !discouraged {
		t.Errorf("its listen address, learnt at the handshake, is not marked discouraged in the address book")
	}
	if refused(t, a.addr, hostileHost) {
		t.Errorf("a new connection from the host was refused")
	}
}

func TestDiscourageKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, sock, listen string
		pinned             bool
		want               string
	}{
		{"a host beyond loopback", "203.0.113.7:51234", "203.0.113.7:8999", false, "203.0.113.7"},
		{"an IPv6 host", "[2001:db8::1]:51234", "", false, "2001:db8::1"},
		{"a -k peer: its address alone", "203.0.113.7:8999", "203.0.113.7:8999", true, "203.0.113.7:8999"},
		{"a loopback peer: where it listens", "127.0.0.1:51234", "127.0.0.1:8999", false, "127.0.0.1:8999"},
		{"a loopback peer that does not listen: nothing", "127.0.0.1:51234", "", false, ""},
		{"IPv6 loopback", "[::1]:51234", "[::1]:8999", false, "[::1]:8999"},
	}
	for _, tt := range tests {
		if got := discourageKey(tt.sock, tt.listen, tt.pinned); got != tt.want {
			t.Errorf("%s: discourageKey(%q, %q, %v) = %q, want %q", tt.name, tt.sock, tt.listen, tt.pinned, got, tt.want)
		}
	}
}

// A full address table forgets a discouraged address first, then one that
// failed, never a pinned one.
func TestEvictAddrPrefersDiscouraged(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		addrs map[string]*addrState
		want  string // the address forgotten
	}{
		{"discouraged before failed", map[string]*addrState{
			"10.0.0.1:1": {failures: 3}, "10.0.0.2:1": {}, "10.0.0.3:1": {},
		}, "10.0.0.3:1"},
		{"failed before good", map[string]*addrState{"10.0.0.1:1": {failures: 3}, "10.0.0.2:1": {}}, "10.0.0.1:1"},
		{"never pinned", map[string]*addrState{"10.0.0.3:1": {pinned: true}, "10.0.0.2:1": {}}, "10.0.0.2:1"},
	}
	for _, tt := range tests {
		s := &Server{cfg: testConfig(), now: time.Now, addrs: tt.addrs, bans: newBanBook()}
		s.discourage("10.0.0.3:1", "test")
		if !s.evictAddr() {
			t.Fatalf("%s: nothing forgotten", tt.name)
		}
		if _, ok := s.addrs[tt.want]; ok || len(s.addrs) != len(tt.addrs) {
			t.Errorf("%s: %s kept", tt.name, tt.want)
		}
	}
}

// A discouraged address is dialled only when no other one is waiting.
func TestDiscouragedDialledLast(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.MaxOutbound = 1
	a := startNode(t, newChain(t), nil, cfg)
	bad := startNode(t, newChain(t), nil, testConfig())
	good := startNode(t, newChain(t), nil, testConfig())
	a.mu.Lock()
	a.discourage(bad.addr, "test")
	a.mu.Unlock()
	a.learn(bad.addr, false)
	a.learn(good.addr, false)
	waitFor(t, 5*time.Second, "the good address dialled", func() bool { return good.readyPeers() == 1 })
	time.Sleep(time.Second) // two more dial rounds
	if n := bad.accepts.Load(); n != 0 {
		t.Errorf("the discouraged address was dialled %d times while the other was free to dial", n)
	}
}

// The operator bans a host: its peers go, its connections are closed on
// accept, Connect refuses it; until the ban expires or is lifted.
func TestBan(t *testing.T) {
	t.Parallel()
	a := startNode(t, newChain(t), nil, quietConfig())
	r := dialReady(t, a.addr, hostileHost)
	if _, err := a.Ban("[::ffff:"+hostileHost+"]:8999", 0); err != nil {
		t.Fatal(err)
	}
	if closed, _ := r.closed(2 * time.Second); !closed {
		t.Errorf("the banned host's peer is still connected")
	}
	if !refused(t, a.addr, hostileHost) {
		t.Errorf("a new connection from the banned host was served")
	}
	if err := a.Connect(hostileHost + ":8999"); !errors.Is(err, ErrBanned) {
		t.Errorf("Connect to the banned host: %v, want ErrBanned", err)
	}
	if got, want := a.banList(), []BanInfo{{Addr: hostileHost, Kind: KindBanned}}; !slices.Equal(got, want) {
		t.Errorf("Banned() = %v, want %v", got, want)
	}
	if err := a.Unban(hostileHost); err != nil {
		t.Fatal(err)
	}
	if refused(t, a.addr, hostileHost) {
		t.Errorf("a new connection from an unbanned host was refused")
	}
	if err := a.Unban(hostileHost); !errors.Is(err, ErrNotBanned) {
		t.Errorf("Unban of a host no longer banned: %v, want ErrNotBanned", err)
	}
	for _, host := range []string{"", "localhost", "127.0.0.300", "[::1"} {
		if _, err := a.Ban(host, 0); !errors.Is(err, ErrBadAddress) {
			t.Errorf("Ban(%q): %v, want ErrBadAddress", host, err)
		}
	}

	if _, err := a.Ban(hostileHost, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if refused(t, a.addr, hostileHost) || len(a.Banned()) != 0 {
		t.Errorf("a ban outlived its duration: %v", a.Banned())
	}
}
