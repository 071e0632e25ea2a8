//go:build linux

package e2e

// The P2P layer's defences against the faults issue 14 found, on real
// processes: descriptors running out, connections that never handshake, a
// bad frame from the machine every local node shares, and a ping flood.
// Linux: they lower a node's descriptor limit and read its CPU time in /proc.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/hashforge/hashforge/p2p/wire"
)

// setNofile sets the soft RLIMIT_NOFILE of process pid to soft, keeping
// its hard limit, and returns the limits it had.
func setNofile(t *testing.T, pid int, soft uint64) syscall.Rlimit {
	t.Helper()
	var old syscall.Rlimit
	if _, _, e := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(pid), syscall.RLIMIT_NOFILE, 0, uintptr(unsafe.Pointer(&old)), 0, 0); e != 0 {
		t.Fatalf("prlimit: %v", e)
	}
	lim := syscall.Rlimit{Cur: soft, Max: old.Max}
	if _, _, e := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(pid), syscall.RLIMIT_NOFILE, uintptr(unsafe.Pointer(&lim)), 0, 0, 0); e != 0 {
		t.Fatalf("prlimit: %v", e)
	}
	return old
}

// openFiles is how many descriptors process pid has open.
func openFiles(t *testing.T, pid int) int {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(fds)
}

// greeted dials addr and reports whether the node sends its version within
// d: whether it accepted the connection, not merely the kernel.
func greeted(t *testing.T, addr string, d time.Duration) (net.Conn, bool) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetReadDeadline(time.Now().Add(d))
	m, err := wire.ReadMessage(conn, regtestMagic)
	conn.SetReadDeadline(time.Time{})
	_, ok := m.(*wire.MsgVersion)
	return conn, err == nil && ok
}

// countLogLines is how many lines of log have the message msg (one with
// spaces, which slog quotes) and all of more.
func countLogLines(log, msg string, more ...string) int {
	n := 0
	for _, line := range strings.Split(log, "\n") {
		ok := strings.Contains(line, `msg="`+msg+`"`)
		for _, m := range more {
			ok = ok && strings.Contains(line, m)
		}
		if ok {
			n++
		}
	}
	return n
}

// TestP2PAcceptEMFILE: a node out of file descriptors cannot accept; once
// connections close and free some, it accepts again: the connections that
// waited meanwhile, then a node that joins and syncs. The first accept
// error of the burst is logged, once.
func TestP2PAcceptEMFILE(t *testing.T) {
	v := startNode(t, "V", nodeOpts{mine: true, interval: "100ms"})
	v.waitHeight(t, 10*time.Second, 3)
	// Room for six more: the connections below take them, then accept fails.
	const spare = 6
	setNofile(t, v.pid(), uint64(openFiles(t, v.pid())+spare))
	var served, waiting []net.Conn
	for range spare + 4 {
		c, ok := greeted(t, v.addr(), time.Second)
		if ok {
			served = append(served, c)
		} else {
			waiting = append(waiting, c)
		}
	}
	t.Logf("out of descriptors: %d connections served, %d waiting", len(served), len(waiting))
	if len(waiting) == 0 || len(served) == 0 {
		t.Fatalf("%d connections served and %d waiting with about %d descriptors spare", len(served), len(waiting), spare)
	}
	time.Sleep(2 * time.Second) // accept fails on, retried each second: one burst, one line
	if n := countLogLines(v.log(), "p2p accept failing; retrying"); n != 1 {
		t.Errorf("%d lines of accept errors in a burst, want 1", n)
	}

	t0 := time.Now()
	for _, c := range served {
		c.Close()
	}
	for i, c := range waiting {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if m, err := wire.ReadMessage(c, regtestMagic); err != nil || m.Command() != "version" {
			t.Fatalf("waiting connection %d, after descriptors were freed: %v %v", i, m, err)
		}
		c.Close()
	}
	t.Logf("the waiting connections were served %s after descriptors were freed", time.Since(t0).Round(time.Millisecond))
	waitFor(t, 5*time.Second, "V logs its recovery", func() (bool, string) {
		return countLogLines(v.log(), "p2p accept recovered") == 1, "no recovery logged"
	})

	joinAndSync(t, v)
}

// joinAndSync starts a node B that joins v with -k, waits until B is linked
// with v and on v's tip, and returns B.
func joinAndSync(t *testing.T, v *node) *node {
	t.Helper()
	b := startNode(t, "B", nodeOpts{peers: []string{v.addr()}})
	took := waitFor(t, 20*time.Second, "B joins V and syncs", func() (bool, string) {
		if ok, how := linked(b, v); !ok {
			return false, how
		}
		return sameTip(v.mustStatus(t).Height, v, b)
	})
	t.Logf("B joined V and synced %s after its start", took.Round(time.Millisecond))
	return b
}

// TestP2PHandshakeFlood: 200 connections that never handshake, each opened
// again a second after the node closes it, do not keep an honest node from
// joining and syncing during the attack.
func TestP2PHandshakeFlood(t *testing.T) {
	v := startNode(t, "V", nodeOpts{mine: true, interval: "100ms"})
	v.waitHeight(t, 10*time.Second, 5)

	ctx, stop := context.WithCancel(context.Background())
	var attackers sync.WaitGroup
	var opened, open atomic.Int64
	for range 200 {
		attackers.Go(func() {
			for ctx.Err() == nil {
				c, err := net.Dial("tcp", v.addr())
				if err == nil {
					opened.Add(1)
					open.Add(1)
					unhook := context.AfterFunc(ctx, func() { c.Close() })
					io.Copy(io.Discard, c) // the node's version, never answered, until the node closes
					unhook()
					c.Close()
					open.Add(-1)
				}
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
		})
	}
	defer func() { stop(); attackers.Wait() }()
	time.Sleep(2 * time.Second)
	t.Logf("attack under way: %d connections opened, %d open", opened.Load(), open.Load())

	t0 := time.Now()
	h := startNode(t, "H", nodeOpts{peers: []string{v.addr()}})
	var peers []int
	waitFor(t, 30*time.Second, "H joins V and syncs during the attack", func() (bool, string) {
		st, err := h.status()
		if err != nil {
			return false, err.Error()
		}
		peers = append(peers, st.Peers)
		return sameTip(v.mustStatus(t).Height, v, h)
	})
	took, joined := time.Since(t0), len(peers)
	for time.Since(t0) < took+3*time.Second {
		peers = append(peers, h.mustStatus(t).Peers)
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("H joined V and synced %s after its start; H's peers, read every 50 to 200 ms: %v; the attack opened %d connections, %d open now",
		took.Round(time.Millisecond), runLengths(peers), opened.Load(), open.Load())
	if least := slices.Min(peers[joined-1:]); least != 1 {
		t.Errorf("H's peers after it joined, during the attack: %v; want V throughout", runLengths(peers[joined-1:]))
	}
	if opened.Load() < 400 {
		t.Errorf("the attack opened only %d connections: it did not run", opened.Load())
	}
}

// runLengths writes runs of the same number as n×count.
func runLengths(xs []int) string {
	var out []string
	for i := 0; i < len(xs); {
		j := i
		for j < len(xs) && xs[j] == xs[i] {
			j++
		}
		out = append(out, fmt.Sprintf("%d×%d", xs[i], j-i))
		i = j
	}
	return strings.Join(out, " ")
}

// TestP2PBadFrameDiscourages: a peer on 127.0.0.1 sends a frame with a bad
// checksum. It is dropped and its address discouraged, and nothing more:
// another node on the same host still joins and syncs, and the API still
// takes that node's address.
func TestP2PBadFrameDiscourages(t *testing.T) {
	v := startNode(t, "V", nodeOpts{mine: true, interval: "100ms"})
	v.waitHeight(t, 10*time.Second, 5)
	rp := dialPeer(t, v.addr())
	rp.handshake(t)
	bad := wire.Frame(regtestMagic, "ping", make([]byte, 80))
	bad[20] ^= 0xff // the checksum
	if err := rp.write(bad); err != nil {
		t.Fatal(err)
	}
	rp.expectClosed(t, 5*time.Second)
	waitFor(t, 5*time.Second, "V logs the misbehaviour", func() (bool, string) {
		n := countLogLines(v.log(), "peer misbehaved", "checksum")
		return n == 1, fmt.Sprintf("%d peer misbehaved lines for a checksum", n)
	})
	// The raw peer does not listen: there is no address of its own to
	// discourage, and the host is every node's.
	if bans, err := v.api().Bans(context.Background()); err != nil || len(bans) != 0 {
		t.Errorf("GET /api/bans: %+v %v, want none", bans, err)
	}

	b := joinAndSync(t, v) // on the same host as the bad peer
	if err := v.api().Connect(context.Background(), b.addr()); err != nil {
		t.Errorf("POST /api/peers %s on V: %v", b.addr(), err)
	}
}

// TestP2PPingFlood: a peer floods pings as fast as loopback carries them,
// five times, connecting again each time it is dropped. Each flood must
// end within seconds, and over the attack the node's own CPU time must
// stay under 30 % of a core.
func TestP2PPingFlood(t *testing.T) {
	v := startNode(t, "V", nodeOpts{})
	var pings bytes.Buffer
	for range 1000 {
		wire.WriteMessage(&pings, regtestMagic, &wire.MsgPing{Nonce: 1})
	}
	cpu0, t0 := cpuTime(t, v.pid()), time.Now()
	var dropped []time.Duration
	for range 5 {
		rp := dialPeer(t, v.addr())
		rp.handshake(t)
		start := time.Now()
		// The kernel takes writes until the node's socket buffers fill,
		// after the node stopped reading: the flood ends when they fail.
		for time.Since(start) < 10*time.Second && rp.write(pings.Bytes()) == nil {
		}
		rp.expectClosed(t, 5*time.Second)
		dropped = append(dropped, time.Since(start))
		time.Sleep(200 * time.Millisecond)
	}
	// Over 3 s at least: the CPU times count in hundredths of a second.
	time.Sleep(time.Until(t0.Add(3 * time.Second)))
	elapsed := time.Since(t0)
	cpu := cpuTime(t, v.pid()) - cpu0
	share := float64(cpu) / float64(elapsed)
	t.Logf("5 ping floods over %s, each dropped after %v; V used %s of CPU, %.1f %% of a core",
		elapsed.Round(time.Millisecond), dropped, cpu, 100*share)
	if slowest := slices.Max(dropped); slowest > 5*time.Second {
		t.Errorf("a flood went on for %s before the node dropped it", slowest)
	}
	if share >= 0.30 {
		t.Errorf("V used %.1f %% of a core during the floods, want under 30 %%", 100*share)
	}
	waitFor(t, 5*time.Second, "V logs each flood", func() (bool, string) {
		n := countLogLines(v.log(), "peer misbehaved", "message flood: ping")
		return n == len(dropped), fmt.Sprintf("%d peer misbehaved lines for a ping flood, of %d floods", n, len(dropped))
	})
}
