package stratum

// The client: this node's devices mine for a pool. Client.Run keeps one
// connection to the best pool that answers (the first of the list that
// does), Jobs hands the miner each job and PoolWork.Share sends its shares.
// client_conn.go speaks the protocol on one connection, client_work.go holds
// the jobs and shares.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// ErrClientConfig is wrapped by every refusal of a ClientConfig.
var ErrClientConfig = errors.New("stratum client")

// ClientConfig says which pools to mine for and as whom.
type ClientConfig struct {
	// Pools are "stratum+tcp://HOST:PORT" (or "tcp://HOST:PORT"), in order
	// of preference: the client fails over down the list and comes back to
	// the first that answers again.
	Pools []string
	// User is the worker name the pool credits, often "address.worker";
	// Pass is what the pool asks for, often "x".
	User, Pass string
	// UserAgent names the miner in mining.subscribe and client.get_version.
	UserAgent string
	// Recheck is how often a client mining for a backup pool asks the
	// pools ahead of it whether they are back (60 s).
	Recheck time.Duration
}

// DefaultUserAgent is sent when ClientConfig.UserAgent is empty.
const DefaultUserAgent = "hashforge"

// clientTimings are the client's waits, fields so a test can shorten them.
type clientTimings struct {
	dial      time.Duration // to open a connection
	handshake time.Duration // for the answers to subscribe and authorize
	write     time.Duration // for one line to go out
	// silence is how long a pool may send no job before the client calls it
	// dead: pools send a job at least every minute or so, if only a new time.
	silence time.Duration
	// backoffFirst doubles up to backoffMost between tries to connect.
	backoffFirst, backoffMost time.Duration
	// failAfter failed tries move the client to the next pool.
	failAfter int
	// recheck is how often a client on a backup pool asks the pools ahead
	// of it whether they are back.
	recheck time.Duration
}

var defaultClientTimings = clientTimings{
	dial:         10 * time.Second,
	handshake:    15 * time.Second,
	write:        10 * time.Second,
	silence:      2 * time.Minute,
	backoffFirst: time.Second,
	backoffMost:  30 * time.Second,
	failAfter:    2,
	recheck:      60 * time.Second,
}

// poolAddr is one pool of the list.
type poolAddr struct {
	url  string // as configured
	addr string // host:port
}

// parsePoolURL checks a pool URL: stratum+tcp or tcp, a host and a port.
func parsePoolURL(s string) (poolAddr, error) {
	u, err := url.Parse(s)
	if err != nil {
		return poolAddr{}, fmt.Errorf("%w: pool %q: %v", ErrClientConfig, s, err)
	}
	if u.Scheme != "stratum+tcp" && u.Scheme != "tcp" {
		return poolAddr{}, fmt.Errorf("%w: pool %q: want stratum+tcp://HOST:PORT (or tcp://), have scheme %q", ErrClientConfig, s, u.Scheme)
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return poolAddr{}, fmt.Errorf("%w: pool %q: want stratum+tcp://HOST:PORT with nothing after the port (the worker goes in the user setting)", ErrClientConfig, s)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil || host == "" {
		return poolAddr{}, fmt.Errorf("%w: pool %q: want stratum+tcp://HOST:PORT, have no host and port", ErrClientConfig, s)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return poolAddr{}, fmt.Errorf("%w: pool %q: port %q: want 1 to 65535", ErrClientConfig, s, port)
	}
	return poolAddr{url: s, addr: net.JoinHostPort(host, port)}, nil
}

// ClientStats is what the client shows of its pool and its shares.
type ClientStats struct {
	URL            string            `json:"url"` // the pool in use or being tried
	Connected      bool              `json:"connected"`
	ConnectedSince time.Time         `json:"connected_since,omitzero"`
	Difficulty     float64           `json:"difficulty"`
	VersionMask    uint32            `json:"version_mask"` // granted by the pool; 0: no version rolling
	SharesAccepted uint64            `json:"shares_accepted"`
	SharesRejected uint64            `json:"shares_rejected"`
	SharesStale    uint64            `json:"shares_stale"` // found after a clean job replaced theirs: not sent
	RejectedBy     map[string]uint64 `json:"rejected_by_reason"`
	// LatencyMS is the last round trip to the pool (a subscribe or a
	// submit and its answer), LatencyAvgMS their moving average.
	LatencyMS    float64 `json:"latency_ms"`
	LatencyAvgMS float64 `json:"latency_avg_ms"`
	Switches     uint64  `json:"switches"` // moves from one pool to another
}

// Client mines for a pool: see Run.
type Client struct {
	cfg   ClientConfig
	pools []poolAddr
	log   *slog.Logger
	t     clientTimings

	// jobs holds the latest job the miner has not taken.
	jobs   chan MinerJob
	jobsMu sync.Mutex

	mu    sync.Mutex
	stats ClientStats
	sess  *clientSession // the connection in use, nil between
}

// NewClient checks cfg and returns a client; Run connects it.
func NewClient(cfg ClientConfig, log *slog.Logger) (*Client, error) {
	if len(cfg.Pools) == 0 {
		return nil, fmt.Errorf("%w: no pool: want at least one stratum+tcp://HOST:PORT", ErrClientConfig)
	}
	if cfg.User == "" {
		return nil, fmt.Errorf("%w: no user: pools credit shares to a worker name", ErrClientConfig)
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	c := &Client{cfg: cfg, log: log, t: defaultClientTimings, jobs: make(chan MinerJob, 1)}
	if cfg.Recheck > 0 {
		c.t.recheck = cfg.Recheck
	}
	for _, s := range cfg.Pools {
		p, err := parsePoolURL(s)
		if err != nil {
			return nil, err
		}
		c.pools = append(c.pools, p)
	}
	c.stats.URL = c.pools[0].url
	c.stats.RejectedBy = map[string]uint64{}
	return c, nil
}

// Jobs delivers each new job of the pool, latest wins: a job the miner has
// not taken yet is replaced by the next. A *PoolWork comes out of it.
func (c *Client) Jobs() <-chan MinerJob { return c.jobs }

// publish makes w the job waiting for the miner.
func (c *Client) publish(w *PoolWork) {
	c.jobsMu.Lock()
	defer c.jobsMu.Unlock()
	select {
	case <-c.jobs:
	default:
	}
	c.jobs <- w
}

// Stats returns the client's counters.
func (c *Client) Stats() ClientStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.RejectedBy = maps.Clone(c.stats.RejectedBy)
	return s
}

// update changes the stats under the lock.
func (c *Client) update(f func(s *ClientStats)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(&c.stats)
}

// latency records one round trip.
func (c *Client) latency(d time.Duration) {
	ms := float64(d.Microseconds()) / 1000
	c.update(func(s *ClientStats) {
		s.LatencyMS = ms
		if s.LatencyAvgMS == 0 {
			s.LatencyAvgMS = ms
		} else {
			s.LatencyAvgMS += (ms - s.LatencyAvgMS) / 5
		}
	})
}

// Why a connection ended, when it was the client's choice or the pool's
// request rather than a failure.
type (
	// errReconnect is client.reconnect: the pool asks to be reached again,
	// at addr, after wait.
	errReconnect struct {
		addr string
		wait time.Duration
	}
	// errPoolBack is a pool ahead of the one in use answering again.
	errPoolBack struct{ index int }
)

func (e *errReconnect) Error() string {
	return fmt.Sprintf("the pool asked to reconnect to %s in %v", e.addr, e.wait)
}
func (e *errPoolBack) Error() string { return fmt.Sprintf("pool %d is back", e.index) }

// maxReconnectWait bounds the wait a pool's client.reconnect asks for.
const maxReconnectWait = 5 * time.Minute

// Run keeps the client connected until ctx ends: to the first pool, again
// after a failure with a backoff doubling from 1 s to 30 s, to the next pool
// after two failed tries in a row, and back to a pool ahead in the list
// when a check (every minute) finds it answering again.
func (c *Client) Run(ctx context.Context) {
	index, fails, streak := 0, 0, 0
	redirect := "" // client.reconnect's address, tried once
	for ctx.Err() == nil {
		addr := c.pools[index].addr
		if redirect != "" {
			addr, redirect = redirect, ""
		}
		established, err := c.session(ctx, index, addr)
		if ctx.Err() != nil {
			return
		}
		var back *errPoolBack
		var re *errReconnect
		switch {
		case errors.As(err, &back):
			c.switchTo(&index, back.index, "a pool ahead in the list is back")
			fails, streak = 0, 0
			continue
		case errors.As(err, &re):
			c.log.Info("pool asks to reconnect", "pool", c.pools[index].url, "addr", re.addr, "wait", re.wait)
			redirect, fails, streak = re.addr, 0, 0
			if !sleep(ctx, re.wait) {
				return
			}
			continue
		}
		if established {
			fails, streak = 0, 0
			c.log.Warn("pool connection lost", "pool", c.pools[index].url, "err", err)
		} else {
			c.log.Warn("pool connection failed", "pool", c.pools[index].url, "addr", addr, "err", err)
		}
		fails++
		streak++
		if fails >= c.t.failAfter && len(c.pools) > 1 {
			c.switchTo(&index, (index+1)%len(c.pools), fmt.Sprintf("%d tries failed", fails))
			fails = 0
			continue
		}
		wait := c.t.backoffFirst << min(streak-1, 16)
		if wait > c.t.backoffMost || wait <= 0 {
			wait = c.t.backoffMost
		}
		if !sleep(ctx, wait) {
			return
		}
	}
}

// switchTo moves the client to pool to, and says so.
func (c *Client) switchTo(index *int, to int, why string) {
	if *index == to {
		return
	}
	c.log.Warn("pool switch", "from", c.pools[*index].url, "to", c.pools[to].url, "why", why)
	*index = to
	c.update(func(s *ClientStats) {
		s.Switches++
		s.URL = c.pools[to].url
	})
}

// sleep waits d, or less when ctx ends first: false then.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// watchAhead asks the pools ahead of pool index every recheck whether they
// answer, and ends the session (stop) for the first that does.
func (c *Client) watchAhead(ctx context.Context, index int, stop context.CancelCauseFunc) {
	tick := time.NewTicker(c.t.recheck)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for i := range index {
			if err := c.probe(ctx, c.pools[i].addr); err == nil {
				stop(&errPoolBack{index: i})
				return
			} else {
				c.log.Debug("pool still down", "pool", c.pools[i].url, "err", err)
			}
		}
	}
}

// probe tells whether the pool at addr answers a subscribe: a port that
// takes connections but speaks no Stratum is no pool to go back to.
func (c *Client) probe(ctx context.Context, addr string) error {
	d := net.Dialer{Timeout: c.t.dial}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(c.t.handshake))
	line, _ := json.Marshal(map[string]any{"id": 1, "method": "mining.subscribe", "params": []any{c.cfg.UserAgent}})
	if _, err := conn.Write(append(line, '\n')); err != nil {
		return err
	}
	r := bufio.NewReaderSize(conn, maxClientLine)
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return err
		}
		var m clientMsg
		if json.Unmarshal(line, &m) != nil || m.Method != "" || string(m.ID) != "1" {
			continue
		}
		if err := decodeRPCError(m.Error); err != nil {
			return err
		}
		_, _, err = DecodeSubscribeResult(m.Result)
		return err
	}
}
