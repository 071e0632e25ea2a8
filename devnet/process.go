package devnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/hashforge/hashforge/apiclient"
	"github.com/hashforge/hashforge/chain"
)

// node is one node process.
type node struct {
	index   int
	api     *apiclient.Client
	cmd     *exec.Cmd
	pidFile string
	done    chan struct{} // closed once the process has been waited for
	err     error         // how it ended; set before done is closed
	killed  atomic.Bool   // it outlived stopGrace and was killed
	stopped atomic.Bool   // the manager stopped it: its end is no fault

	// Under the network's lock: what the node last said of itself.
	id   *chain.Address // nil until it has answered
	seen bool           // it has answered once
}

func (n *node) exited() bool {
	select {
	case <-n.done:
		return true
	default:
		return false
	}
}

// portsFree checks that nodes [from, to) can take their ports: a port in
// use would only show as a node down, its reason buried in its log.
func (c *Config) portsFree(from, to int) error {
	for i := from; i < to; i++ {
		for _, addr := range []string{c.p2pAddr(i), c.httpAddr(i)} {
			if err := portFree(addr); err != nil {
				return err
			}
		}
	}
	return nil
}

// errPortTaken: a node's port is in use.
var errPortTaken = errors.New("not free (pick another --base-port)")

func portFree(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("port %s is %w: %v", addr, errPortTaken, err)
	}
	return ln.Close()
}

// start starts node i, joined to node peer (-1: none), with its output
// appended to its node.log, and records its PID in its pid file until it
// has been waited for.
func (c *Config) start(client *http.Client, i, peer int) (*node, error) {
	dir := c.nodeDir(i)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	log, err := os.OpenFile(filepath.Join(dir, "node.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer log.Close() // the child holds its own copy
	cmd := exec.Command(c.Exe, c.nodeArgs(i, peer)...)
	cmd.Stdout, cmd.Stderr = log, log // files, not pipes: no copying goroutines, nothing to drain
	if c.Token != "" {
		// The environment, not a flag: a token on a command line shows in
		// the process list.
		cmd.Env = append(os.Environ(), apiclient.TokenEnv+"="+c.Token)
	}
	// On Linux the kernel kills the node if the launcher dies, even by
	// SIGKILL, so no node outlives it; see proc_linux.go.
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	n := &node{
		index: i, cmd: cmd, pidFile: filepath.Join(dir, "pid"), done: make(chan struct{}),
		api: &apiclient.Client{URL: "http://" + c.httpAddr(i), Token: c.Token, Cookie: filepath.Join(dir, apiclient.CookieFile), HTTP: client},
	}
	if err := os.WriteFile(n.pidFile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		n.pidFile = ""
	}
	go func() {
		n.err = cmd.Wait()
		if n.pidFile != "" {
			os.Remove(n.pidFile)
		}
		close(n.done)
	}()
	return n, nil
}

// waitUp waits until node n answers on HTTP, exits, or startWait passes.
func (n *node) waitUp(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, startWait)
	defer cancel()
	for ctx.Err() == nil && !n.exited() {
		if _, err := n.api.Status(ctx); err == nil {
			return
		}
		select {
		case <-ctx.Done():
		case <-n.done:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stopNodes interrupts every running node and waits for them all; a node
// still running after stopGrace is killed. It returns how many were.
func stopNodes(nodes []*node) int {
	for _, n := range nodes {
		if !n.exited() {
			if err := n.cmd.Process.Signal(os.Interrupt); err != nil && !errors.Is(err, os.ErrProcessDone) {
				n.cmd.Process.Kill() // no SIGINT here (Windows): stop it the hard way
			}
		}
	}
	grace, cancel := context.WithTimeout(context.Background(), stopGrace)
	defer cancel()
	killed := 0
	for _, n := range nodes {
		select {
		case <-n.done:
			continue
		case <-grace.Done():
		}
		select {
		case <-n.done:
		default:
			n.killed.Store(true)
			killed++
			n.cmd.Process.Kill()
			<-n.done
		}
	}
	return killed
}
