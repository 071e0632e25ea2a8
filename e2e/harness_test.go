package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// minerPkg is the command under test, built by import path so the build
// does not depend on the folder the tests run in.
const minerPkg = "github.com/hashforge/hashforge/cmd/miner"

// The miner's exit codes, as cmd/miner's main.go sets them: the tests see
// the command from outside, as a script calling it would.
const (
	exitFailure = 1 // the command ran and failed
	exitUsage   = 2 // bad flags or input: nothing was done
)

// minerBin is the miner binary TestMain builds.
var minerBin string

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "miner-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	minerBin = filepath.Join(dir, "miner")
	// Never -race, even when GOFLAGS asks for it: hashing under the race
	// detector is about 10x slower and the timing tests would measure that.
	build := exec.Command("go", "build", "-race=false", "-o", minerBin, minerPkg)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "build miner: %v\n", err)
		return 1
	}
	return m.Run()
}

// result is what a finished miner run left behind.
type result struct {
	code           int
	stdout, stderr string
	took           time.Duration
}

// runMiner runs the miner to completion and fails the test if it outlives
// timeout. It runs in a fresh working directory, so a default ./data/<network>
// never lands in the source tree.
func runMiner(t *testing.T, timeout time.Duration, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, minerBin, args...)
	cmd.Dir = t.TempDir()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	t0 := time.Now()
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String(), took: time.Since(t0)}
	if ctx.Err() != nil {
		t.Fatalf("miner %s: still running after %s\nstderr:\n%s", strings.Join(args, " "), timeout, tail(r.stderr))
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	default:
		t.Fatalf("miner %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// proc is a miner running in the background, such as a node.
type proc struct {
	args   []string
	cmd    *exec.Cmd
	output *lockedBuffer    // stdout and stderr together
	done   chan struct{}    // closed once the process has been waited for
	state  *os.ProcessState // set before done is closed
}

// startMiner starts the miner in the background. The process never outlives
// the test: cleanup kills it, and a hard deadline kills a forgotten one.
func startMiner(t *testing.T, args ...string) *proc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	p := &proc{args: args, cmd: exec.CommandContext(ctx, minerBin, args...), output: new(lockedBuffer), done: make(chan struct{})}
	p.cmd.Dir = t.TempDir()
	p.cmd.Stdout, p.cmd.Stderr = p.output, p.output
	if err := p.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start miner: %v", err)
	}
	go func() {
		p.cmd.Wait() // the state below tells how it ended
		p.state = p.cmd.ProcessState
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		cancel()
	})
	return p
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitExit waits up to d for the process to end and returns how it ended.
func (p *proc) waitExit(t *testing.T, d time.Duration) *os.ProcessState {
	t.Helper()
	select {
	case <-p.done:
		return p.state
	case <-time.After(d):
		t.Fatalf("miner %s: still running after %s\noutput:\n%s", strings.Join(p.args, " "), d, tail(p.output.String()))
		return nil
	}
}

// signal sends sig and waits up to d for the process to end.
func (p *proc) signal(t *testing.T, sig os.Signal, d time.Duration) *os.ProcessState {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal miner: %v (it exited early?)\noutput:\n%s", err, tail(p.output.String()))
	}
	return p.waitExit(t, d)
}

// lockedBuffer is a buffer a child's output may be copied into while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// tail keeps failure messages readable when a node has logged many blocks.
func tail(s string) string {
	const keep = 3000
	if len(s) <= keep {
		return s
	}
	return "…" + s[len(s)-keep:]
}

// freePort returns a 127.0.0.1 port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// verify runs `miner verify` on a datadir.
func verify(t *testing.T, network, datadir string) result {
	t.Helper()
	return runMiner(t, 30*time.Second, "verify", "--network", network, "--datadir", datadir)
}

var verifiedRE = regexp.MustCompile(`^ok: (\w+) chain verified, height (\d+), tip ([0-9a-f]{64})\n$`)

// verifiedHeight requires a passing verify and returns the height it printed.
func verifiedHeight(t *testing.T, network string, r result) uint64 {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("verify exited %d, want 0\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	m := verifiedRE.FindStringSubmatch(r.stdout)
	if m == nil || m[1] != network {
		t.Fatalf("verify printed %q, want %q", r.stdout, "ok: "+network+" chain verified, height N, tip HASH")
	}
	h, err := strconv.ParseUint(m[2], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
