package p2p

import (
	"crypto/rand"
	"encoding/binary"
	"testing"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/p2p/wire"
)

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
		name      string
		handshake bool
		act       func(t *testing.T, r *rawPeer, a *node)
		ban       bool
	}{
		// Bytes without our magic may be another network: dropped, not banned.
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
		// Protocol slips a buggy peer makes: dropped, not banned.
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
			if tt.ban {
				wantBans = 1
			}
			if got := a.Bans(); got != wantBans {
				t.Errorf("Bans() = %d, want %d", got, wantBans)
			}
			if got := a.banned(hostileHost); got != tt.ban {
				t.Errorf("banned: %v, want %v", got, tt.ban)
			}
			if got := refused(t, a.addr, hostileHost); got != tt.ban {
				t.Errorf("a new connection from %s refused: %v, want %v", hostileHost, got, tt.ban)
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
