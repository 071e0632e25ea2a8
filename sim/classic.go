package sim

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/wallet"
)

// The clocked simulator people know from teaching blockchains: a
// controller steps a clock of ticks, asks each node what it is doing, and
// tells a node to mine or to take a transaction; each action takes ticks.
// Here each node is still a ChainNode, the node's own code: a tick is a
// second of the engine's virtual time, and ClassicNode only holds each
// action back for its cost and says which one the node is busy with.

// Tick is one step of the controller's clock.
const Tick = time.Second

// Costs are the ticks each action takes.
type Costs struct {
	Mine      int // finding a block
	Block, Tx int // broadcasting one
	Receive   int // taking in a block or a transaction from a peer
	Answer    int // answering the controller: a read changes nothing, so it costs no time
}

// DefaultCosts are the classic simulator's: mining 3, broadcasting a block
// or a transaction 1, receiving either 1, answering the controller 0.
func DefaultCosts() Costs { return Costs{Mine: 3, Block: 1, Tx: 1, Receive: 1} }

// ParseCosts reads "mine=3,block=1,tx=1,receive=1,answer=0"; a name left out
// keeps its default.
func ParseCosts(s string) (Costs, error) {
	c := DefaultCosts()
	fields := map[string]*int{"mine": &c.Mine, "block": &c.Block, "tx": &c.Tx, "receive": &c.Receive, "answer": &c.Answer}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		p := fields[k]
		n, err := strconv.Atoi(v)
		if !ok || p == nil || err != nil || n < 0 {
			return c, fmt.Errorf("costs %q: want name=ticks for mine, block, tx, receive, answer (ticks 0 or more)", kv)
		}
		*p = n
	}
	return c, nil
}

// The statuses a ClassicNode reports.
const (
	StatusIdle              = "idle"
	StatusMining            = "mining"
	StatusBroadcastingBlock = "broadcasting-block"
	StatusBroadcastingTx    = "broadcasting-tx"
	StatusReceivingBlock    = "receiving-block"
	StatusReceivingTx       = "receiving-tx"
)

// ClassicNode is a ChainNode whose actions take the ticks of Costs: it mines
// for Costs.Mine ticks before its block exists, is busy broadcasting for a
// block's or a transaction's cost after, and takes a block or a transaction
// from a peer Costs.Receive ticks after it arrives.
type ClassicNode struct {
	*ChainNode
	costs Costs
	// status is what the node is busy with until the tick busyUntil.
	status    string
	busyUntil time.Time
}

// The timers of a ClassicNode's actions.
type (
	mined    struct{}
	received struct {
		from int
		msg  Message
	}
)

// NewClassicNode returns node i of a classic scenario.
func NewClassicNode(i int, costs Costs) *ClassicNode {
	n := NewChainNode(i)
	// The classic model's NEW_TX goes out at once, at the cost of a tick:
	// no announcement waits for a timer.
	n.announce = 0
	return &ClassicNode{ChainNode: n, costs: costs, status: StatusIdle}
}

// Status is what the node is busy with at now.
func (n *ClassicNode) Status(now time.Time) string {
	if now.Before(n.busyUntil) {
		return n.status
	}
	return StatusIdle
}

func (n *ClassicNode) busy(env Env, status string, ticks int) {
	n.status, n.busyUntil = status, env.Now().Add(time.Duration(ticks)*Tick)
}

// StartMining has the node find a block Costs.Mine ticks from now.
func (n *ClassicNode) StartMining(env Env) {
	n.busy(env, StatusMining, n.costs.Mine)
	env.After(time.Duration(n.costs.Mine)*Tick, mined{})
}

// SubmitTx offers tx to the node, which is busy broadcasting it for
// Costs.Tx ticks.
func (n *ClassicNode) SubmitTx(env Env, tx *chain.Tx) error {
	if err := n.Submit(env, tx); err != nil {
		return err
	}
	n.busy(env, StatusBroadcastingTx, n.costs.Tx)
	return nil
}

// Receive holds a block or a transaction back for Costs.Receive ticks;
// the protocol's other messages pass at once.
func (n *ClassicNode) Receive(env Env, from int, msg Message) {
	status := map[string]string{"block": StatusReceivingBlock, "tx": StatusReceivingTx}[msg.Kind]
	if status == "" || n.costs.Receive == 0 {
		n.ChainNode.Receive(env, from, msg)
		return
	}
	n.busy(env, status, n.costs.Receive)
	env.After(time.Duration(n.costs.Receive)*Tick, received{from, msg})
}

// Wake takes what Receive held back, finishes mining, or fires the peer
// layer's timers.
func (n *ClassicNode) Wake(env Env, token any) {
	switch t := token.(type) {
	case mined:
		n.ChainNode.Mine(env)
		n.busy(env, StatusBroadcastingBlock, n.costs.Block)
	case received:
		n.ChainNode.Receive(env, t.from, t.msg)
	default:
		n.ChainNode.Wake(env, token)
	}
}

// Mine is the engine's schedule, which a classic run does not have: the
// controller says when a node mines.
func (n *ClassicNode) Mine(env Env) { n.StartMining(env) }

// Account is a named key of the classic scenario.
type Account struct {
	Name string
	Key  ed25519.PrivateKey
}

// Address is the account's address.
func (a Account) Address() chain.Address { return chain.AddressOf(a.Key.Public().(ed25519.PublicKey)) }

// ClassicAccounts are the scenario's three accounts, and what the start
// pays each: aki 2, so 7 and satoshi 5 coins. Their keys come from their
// names, so that every run has the same ones.
func ClassicAccounts() ([]Account, []uint64) {
	var accts []Account
	for _, name := range []string{"aki", "so", "satoshi"} {
		seed := sha256.Sum256([]byte("hashforge sim account " + name))
		accts = append(accts, Account{Name: name, Key: ed25519.NewKeyFromSeed(seed[:])})
	}
	return accts, []uint64{2 * chain.Coin, 7 * chain.Coin, 5 * chain.Coin}
}

// transfer signs amount units from a to to with the least fee.
func (a Account) transfer(to chain.Address, amount, nonce uint64) *chain.Tx {
	return wallet.Transfer(a.Key, to, amount, txFee, nonce, nil, chain.Regtest)
}
