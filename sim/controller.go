package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/internal/httpguard"
)

// Controller serves the clocked control of the classic scenario over HTTP:
// three ClassicNodes, fully linked, the start paying aki 2, so 7 and
// satoshi 5 coins in block 1. The clock moves only when the controller
// steps it; between steps every request sees the network as it stands.
//
//	GET  /clock                      {"tick"}
//	POST /clock {"step": N}          step N ticks (or {"tick": T}: to tick T); every node's status after
//	GET  /nodes                      every node's status, height, tip and pending transactions
//	GET  /nodes/{i}                  one node's
//	GET  /nodes/{i}/blocks           its main chain, genesis first
//	GET  /nodes/{i}/latest           its tip
//	GET  /nodes/{i}/txpool           its pending transactions
//	POST /nodes/{i}/mine             it starts mining: its block exists Costs.Mine ticks later
//	POST /nodes/{i}/tx {"from": "aki", "to": "so", "amount": 1}   a transfer (coins) through it
//	GET  /accounts?node=I            the accounts' balances on node I (0 by default), in coins
//	POST /reset                      the scenario from its start
type Controller struct {
	costs Costs
	seed  uint64

	mu    sync.Mutex
	sim   *Sim
	nodes []*ClassicNode
	accts []Account
	base  time.Time // tick 0: the start's block has reached every node
	mux   *http.ServeMux
}

// NewController sets up the classic scenario.
func NewController(costs Costs, seed uint64) (*Controller, error) {
	c := &Controller{costs: costs, seed: seed, mux: http.NewServeMux()}
	if err := c.reset(); err != nil {
		return nil, err
	}
	c.mux.HandleFunc("GET /clock", c.get(func(r *http.Request) (any, error) { return map[string]int{"tick": c.tick()}, nil }))
	c.mux.HandleFunc("POST /clock", c.post(c.step))
	c.mux.HandleFunc("GET /nodes", c.get(func(r *http.Request) (any, error) { return c.statuses(), nil }))
	c.mux.HandleFunc("GET /nodes/{i}", c.get(c.node(func(n *ClassicNode) (any, error) { return c.status(n), nil })))
	c.mux.HandleFunc("GET /nodes/{i}/blocks", c.get(c.node(c.blocks)))
	c.mux.HandleFunc("GET /nodes/{i}/latest", c.get(c.node(c.latest)))
	c.mux.HandleFunc("GET /nodes/{i}/txpool", c.get(c.node(c.txpool)))
	c.mux.HandleFunc("POST /nodes/{i}/mine", c.post(c.mine))
	c.mux.HandleFunc("POST /nodes/{i}/tx", c.post(c.transfer))
	c.mux.HandleFunc("GET /accounts", c.get(c.accounts))
	c.mux.HandleFunc("POST /reset", c.post(func(r *http.Request) (any, error) { return c.statuses(), c.reset() }))
	return c, nil
}

func (c *Controller) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.mux.ServeHTTP(w, r) }

// reset builds the scenario: three nodes, linked two by two, and block 1
// of node 0 paying the three accounts from the faucet, spread to all.
func (c *Controller) reset() error {
	c.nodes = nil
	cfg := Config{Nodes: 3, Edges: [][2]int{{0, 1}, {0, 2}, {1, 2}}, Latency: &Uniform{Delay: time.Millisecond},
		Seed: c.seed, Manual: true}
	s, err := New(cfg, func(i int) Node {
		n := NewClassicNode(i, c.costs)
		c.nodes = append(c.nodes, n)
		return n
	})
	if err != nil {
		return err
	}
	c.sim = s
	s.RunUntil(s.Now().Add(time.Second)) // the handshakes
	var amounts []uint64
	c.accts, amounts = ClassicAccounts()
	var failed error
	s.Call(0, "start", func(_ Node, env Env) {
		for i, a := range c.accts {
			if err := c.nodes[0].Submit(env, faucet.Transfer(a.Address(), amounts[i], txFee, uint64(i), nil)); err != nil {
				failed = err
			}
		}
		c.nodes[0].ChainNode.Mine(env)
	})
	s.RunUntil(s.Now().Add(2 * time.Second))
	for i, n := range c.nodes {
		if h := n.chain.Tip().Height; h != 1 && failed == nil {
			failed = fmt.Errorf("node %d at height %d after the start, want 1", i, h)
		}
	}
	c.base = s.Now()
	return failed
}

func (c *Controller) tick() int { return int(c.sim.Now().Sub(c.base) / Tick) }

// step moves the clock: {"step": N} ticks, or to {"tick": T}.
func (c *Controller) step(r *http.Request) (any, error) {
	var req struct{ Step, Tick *int }
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	to := c.tick()
	switch {
	case req.Step != nil && *req.Step >= 0:
		to += *req.Step
	case req.Tick != nil && *req.Tick >= to:
		to = *req.Tick
	default:
		return nil, badRequest(fmt.Errorf(`want {"step": N} with N >= 0, or {"tick": T} with T >= %d, the tick now`, to))
	}
	c.sim.RunUntil(c.base.Add(time.Duration(to) * Tick))
	return map[string]any{"tick": c.tick(), "nodes": c.statuses()}, nil
}

// NodeStatus is one node as the controller shows it.
type NodeStatus struct {
	Node    int        `json:"node"`
	Status  string     `json:"status"`
	Height  uint64     `json:"height"`
	Tip     chain.Hash `json:"tip"`
	Pending int        `json:"txpool"`
}

func (c *Controller) status(n *ClassicNode) NodeStatus {
	tip := n.chain.Tip()
	ids, _ := n.pool.PendingIDs()
	return NodeStatus{Node: n.index, Status: n.Status(c.sim.Now()), Height: tip.Height, Tip: tip.Hash, Pending: len(ids)}
}

func (c *Controller) statuses() []NodeStatus {
	out := make([]NodeStatus, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = c.status(n)
	}
	return out
}

// TxView is a transfer as the controller shows it: accounts by name.
type TxView struct {
	Txid   chain.Hash `json:"txid"`
	From   string     `json:"from"`
	To     string     `json:"to"`
	Amount float64    `json:"amount"` // coins
}

// BlockView is a block as the controller shows it.
type BlockView struct {
	Height uint64     `json:"height"`
	Hash   chain.Hash `json:"hash"`
	Miner  string     `json:"miner"`
	Txs    []TxView   `json:"txs"`
}

func (c *Controller) name(a chain.Address) string {
	for _, acct := range c.accts {
		if acct.Address() == a {
			return acct.Name
		}
	}
	for _, n := range c.nodes {
		if a == n.payTo {
			return "node" + strconv.Itoa(n.index) // a coinbase
		}
	}
	if a == faucet.Address() {
		return "faucet"
	}
	return a.String()
}

func (c *Controller) txView(tx *chain.Tx) TxView {
	return TxView{Txid: tx.Hash(), From: c.name(tx.Sender()), To: c.name(tx.To), Amount: float64(tx.Amount) / float64(chain.Coin)}
}

func (c *Controller) blockView(b *chain.Block) BlockView {
	v := BlockView{Height: b.Txs[0].Height, Hash: b.Hash(), Miner: c.name(b.Txs[0].To), Txs: []TxView{}}
	for _, tx := range b.Txs[1:] {
		v.Txs = append(v.Txs, c.txView(tx))
	}
	return v
}

// latest is node n's tip.
func (c *Controller) latest(n *ClassicNode) (any, error) {
	b, err := n.chain.Block(n.chain.Tip().Hash)
	if err != nil {
		return nil, err
	}
	return c.blockView(b), nil
}

// blocks is node n's main chain, genesis first.
func (c *Controller) blocks(n *ClassicNode) (any, error) {
	var out []BlockView
	for h := n.chain.Tip().Hash; ; {
		b, err := n.chain.Block(h)
		if err != nil {
			return nil, err
		}
		out = append(out, c.blockView(b))
		if b.Txs[0].Height == 0 {
			slices.Reverse(out)
			return out, nil
		}
		h = b.Header.PrevBlock
	}
}

func (c *Controller) txpool(n *ClassicNode) (any, error) {
	ids, err := n.pool.PendingIDs()
	out := []TxView{}
	for _, id := range ids {
		if tx, ok := n.pool.Get(id); ok {
			out = append(out, c.txView(tx))
		}
	}
	return out, err
}

func (c *Controller) mine(r *http.Request) (any, error) {
	i, err := c.index(r)
	if err != nil {
		return nil, err
	}
	c.sim.Call(i, "mine", func(_ Node, env Env) { c.nodes[i].StartMining(env) })
	return map[string]any{"status": c.status(c.nodes[i]), "block_at_tick": c.tick() + c.costs.Mine}, nil
}

// transfer sends coins between the scenario's accounts through node i,
// with the sender's next nonce as node i sees it.
func (c *Controller) transfer(r *http.Request) (any, error) {
	i, err := c.index(r)
	if err != nil {
		return nil, err
	}
	var req struct {
		From, To string
		Amount   float64
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	from, to := c.account(req.From), c.account(req.To)
	units := req.Amount * float64(chain.Coin)
	if from == nil || to == nil || !(units > 0) || units > math.MaxInt64 || units != math.Trunc(units) {
		return nil, badRequest(fmt.Errorf("want from and to among aki, so, satoshi and an amount of coins above 0, to 8 decimals"))
	}
	n := c.nodes[i]
	acc, pending, err := n.pool.Account(from.Address())
	if err != nil {
		return nil, err
	}
	tx := from.transfer(to.Address(), uint64(units), acc.Nonce+uint64(pending))
	c.sim.Call(i, "tx", func(_ Node, env Env) { err = n.SubmitTx(env, tx) })
	if err != nil {
		return nil, &httpError{http.StatusUnprocessableEntity, err}
	}
	return map[string]any{"tx": c.txView(tx), "status": c.status(n)}, nil
}

func (c *Controller) accounts(r *http.Request) (any, error) {
	i := 0
	if s := r.URL.Query().Get("node"); s != "" {
		var err error
		if i, err = strconv.Atoi(s); err != nil || i < 0 || i >= len(c.nodes) {
			return nil, badRequest(fmt.Errorf("node %q: want 0 to %d", s, len(c.nodes)-1))
		}
	}
	out := map[string]float64{}
	for _, a := range c.accts {
		acc, err := c.nodes[i].chain.Account(a.Address())
		if err != nil {
			return nil, err
		}
		out[a.Name] = float64(acc.Balance) / float64(chain.Coin)
	}
	return out, nil
}

func (c *Controller) account(name string) *Account {
	for i := range c.accts {
		if c.accts[i].Name == name {
			return &c.accts[i]
		}
	}
	return nil
}

func (c *Controller) index(r *http.Request) (int, error) {
	i, err := strconv.Atoi(r.PathValue("i"))
	if err != nil || i < 0 || i >= len(c.nodes) {
		return 0, &httpError{http.StatusNotFound, fmt.Errorf("no node %q: nodes are 0 to %d", r.PathValue("i"), len(c.nodes)-1)}
	}
	return i, nil
}

func (c *Controller) node(fn func(*ClassicNode) (any, error)) func(*http.Request) (any, error) {
	return func(r *http.Request) (any, error) {
		i, err := c.index(r)
		if err != nil {
			return nil, err
		}
		return fn(c.nodes[i])
	}
}

// httpError is an answer with a status of its own.
type httpError struct {
	status int
	err    error
}

func (e *httpError) Error() string { return e.err.Error() }

func badRequest(err error) error { return &httpError{http.StatusBadRequest, err} }

// decode reads a request's JSON body, refusing unknown fields and more
// than 4 KiB.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 4<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest(fmt.Errorf("body: %w", err))
	}
	return nil
}

// get and post serve fn under the controller's lock, answering JSON: a
// step or an action and a read never see the network half moved. A write
// must come as JSON, which no web page can send to another site unasked.
func (c *Controller) get(fn func(*http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { c.serve(w, r, fn) }
}

func (c *Controller) post(fn func(*http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !httpguard.IsJSON(r.Header.Get("Content-Type")) {
			writeJSON(w, http.StatusUnsupportedMediaType, map[string]string{"error": "a write's body must be application/json"})
			return
		}
		c.serve(w, r, fn)
	}
}

func (c *Controller) serve(w http.ResponseWriter, r *http.Request, fn func(*http.Request) (any, error)) {
	c.mu.Lock()
	v, err := fn(r)
	c.mu.Unlock()
	var he *httpError
	switch {
	case errors.As(err, &he):
		writeJSON(w, he.status, map[string]string{"error": he.Error()})
	case err != nil:
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
	default:
		writeJSON(w, http.StatusOK, v)
	}
}

// Deny answers a request httpguard refuses, in the controller's shape.
func Deny(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// ServeController serves the clocked controller of the classic scenario on
// addr until ctx ends, guarded against other web pages as the node's API is.
func ServeController(ctx context.Context, addr string, costs Costs, seed uint64, stderr io.Writer) error {
	c, err := NewController(costs, seed)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: httpguard.Guard(c, httpguard.NewHosts(addr), Deny), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stderr, "miner sim: the classic scenario's controller on http://%s (GET /clock, /nodes, /nodes/{i}/blocks, /latest, /txpool, /accounts; POST /clock, /nodes/{i}/mine, /nodes/{i}/tx, /reset)\n", ln.Addr())
	context.AfterFunc(ctx, func() { srv.Close() })
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
