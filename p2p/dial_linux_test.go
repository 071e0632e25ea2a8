package p2p

import (
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"
)

// blackHole returns a loopback address whose connects hang: a socket that
// listens with a backlog of 0, its one accept slot taken and never
// accepted, so the kernel drops further SYNs and a dial waits for its timeout.
func blackHole(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	filler, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { filler.Close() })
	return addr
}

// Dials still connecting hold their outbound slots: with slow peers, each
// 500 ms dial round must not start MaxOutbound more dials on top of those
// in flight, or the node ends with many times MaxOutbound outbound peers.
func TestOutboundDialsBounded(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.MaxOutbound = 2
	for range 6 {
		cfg.Connect = append(cfg.Connect, blackHole(t))
	}
	a := startNode(t, newChain(t), nil, cfg)
	// Three dial rounds, well within the 5 s dial timeout. The count is of
	// dials connecting now, not of the addresses marked for one: a round
	// that ignored the marks would start more dials than it marks.
	deadline := time.Now().Add(1600 * time.Millisecond)
	most := int64(0)
	for time.Now().Before(deadline) {
		most = max(most, a.dialing.Load())
		time.Sleep(20 * time.Millisecond)
	}
	if most == 0 {
		t.Fatal("no dial seen in flight: the test measures nothing")
	}
	if most > int64(cfg.MaxOutbound) {
		t.Errorf("%d dials in flight at once, MaxOutbound %d", most, cfg.MaxOutbound)
	}
}

// A failing peer is worth telling the user about the first time and each
// time the wait before the next try grows; once the wait is at its longest,
// a failure tells nothing new.
func TestDialFailureWaitGrows(t *testing.T) {
	s := &Server{now: time.Now, addrs: map[string]*addrState{"peer:1": {connected: true}}}
	var grew []bool
	for range 9 {
		_, g := s.dialDone("peer:1", false)
		grew = append(grew, g)
	}
	last := 0
	for i, g := range grew {
		if g {
			last = i
		}
	}
	if !grew[0] || grew[len(grew)-1] || last < 3 {
		t.Errorf("grew after each failure: %v; want the first and the growing ones, not those at the longest wait", grew)
	}
	if wait, g := s.dialDone("peer:1", true); g || wait != backoff(0) {
		t.Errorf("after a good connection: wait %v, grew %v; want %v and false", wait, g, backoff(0))
	}
}
