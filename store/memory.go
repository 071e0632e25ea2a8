package store

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
	"unique"

	"github.com/hashforge/hashforge/chain"
)

// Memory is the chain store kept in memory: Store's contract (chain.Store,
// the peer book p2p keeps, MainHash and ForEachAccount for chain.Verify)
// without a file, for the network simulator, which runs a thousand nodes'
// chains in one process. It answers as Store does, errors included: an
// unknown block, index entry or undo data is ErrNotFound, the tip of an
// empty store is the zero hash, LoadIndex, ForEachAccount and Peers go in
// key order, and ConnectBlocks refuses a run as Store does and then leaves
// nothing of it. Each call is atomic, as a bbolt transaction is; the
// callbacks of LoadIndex and ForEachAccount see a snapshot taken before the
// first call and may use the store. It is safe for concurrent use. There is
// nothing to close, nothing is checksummed (no disk damages it) and
// nothing survives the process.
//
// Nothing mutable is shared with callers: writes copy what they keep, and
// Block decodes a new *chain.Block on every read.
//
// Memory per block, as TestMemoryPerBlock measures it (blocks of a
// coinbase and ten transfers, 1,545 bytes encoded, on the main chain;
// 64-bit Go): a store alone holds about 4.2 KiB a block, and each further
// store of the same blocks about 1.2 KiB, as the bytes of blocks and of
// undo data are interned (see bytesHandle) and held once in the process.
// Of the 1.2 KiB, the index entry with its map slot is ~0.3 KiB, the
// main-chain height and the slot of the undo data ~0.14 KiB, and the
// transaction index, a 40-byte slot per transaction, ~0.8 KiB. The first
// store pays besides for the interned bytes: the block's encoding rounded
// up to Go's allocation size (1,792 bytes for 1,545) and its undo data
// (52 bytes an account changed), each with ~0.1 KiB of bookkeeping.
// An account costs ~60 bytes and a peer ~60 bytes beside its address.
type Memory struct {
	mu       sync.RWMutex
	blocks   map[chain.Hash]memBlock         // every stored block
	main     map[uint64]hashHandle           // main-chain height → block
	accounts map[chain.Address]chain.Account // accounts with state; none zero
	undo     map[chain.Hash]bytesHandle      // main-chain block → chain.EncodeChanges of its changes
	// txs maps a txid to the height of the main-chain block holding it:
	// a height, not a handle, so that the map holds no pointers and the
	// collector skips it (ten million entries at a thousand simulated
	// nodes and ten thousand transfers).
	txs   map[chain.Hash]uint64
	tip   chain.Hash
	peers map[string]uint64 // host:port → last seen (Unix seconds)
}

// memBlock is a stored block: its index entry and its encoding.
type memBlock struct {
	entry chain.IndexEntry
	raw   bytesHandle
}

// bytesHandle holds bytes that never change, interned: every store in the
// process that holds the same bytes (the nodes of a simulation, which hold
// the same blocks and, for the same main chain, the same undo data) holds
// them once, and the garbage collector frees them when no store holds them
// any longer.
type bytesHandle = unique.Handle[string]

// hashHandle is a block hash, interned for the same reason: a handle is a
// quarter of the hash's size.
type hashHandle = unique.Handle[chain.Hash]

func intern(b []byte) bytesHandle { return unique.Make(string(b)) }

// own returns a copy of interned bytes: the caller's own.
func own(h bytesHandle) []byte { return []byte(h.Value()) }

// NewMemory returns an empty store in memory.
func NewMemory() *Memory {
	return &Memory{
		blocks:   make(map[chain.Hash]memBlock),
		main:     make(map[uint64]hashHandle),
		accounts: make(map[chain.Address]chain.Account),
		undo:     make(map[chain.Hash]bytesHandle),
		txs:      make(map[chain.Hash]uint64),
		peers:    make(map[string]uint64),
	}
}

// LoadIndex calls fn for every stored block's index entry, in the order of
// their hashes' bytes as Store does.
func (m *Memory) LoadIndex(fn func(chain.IndexEntry) error) error {
	m.mu.RLock()
	hashes := slices.SortedFunc(maps.Keys(m.blocks), compareHashes)
	entries := make([]chain.IndexEntry, len(hashes))
	for i, h := range hashes {
		entries[i] = m.blocks[h].entry
	}
	m.mu.RUnlock()
	for _, e := range entries {
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

func compareHashes(a, b chain.Hash) int { return bytes.Compare(a[:], b[:]) }

// Tip returns the main chain's tip, or the zero hash for an empty store.
func (m *Memory) Tip() (chain.Hash, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.tip, nil
}

// PutBlock stores a block and its index entry; a block stored before is
// replaced, status included, as Store replaces it.
func (m *Memory) PutBlock(e chain.IndexEntry, raw []byte) error {
	hash := e.Header.Hash()
	b := memBlock{entry: e, raw: intern(raw)}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.blocks[hash] = b
	return nil
}

// SetStatus records a block's validation status.
func (m *Memory) SetStatus(h chain.Hash, st chain.Status) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blocks[h]
	if !ok {
		return fmt.Errorf("index entry %s: %w", h, ErrNotFound)
	}
	b.entry.Status = st
	m.blocks[h] = b
	return nil
}

// Block returns a stored block, decoded afresh: the caller owns it.
func (m *Memory) Block(h chain.Hash) (*chain.Block, error) {
	m.mu.RLock()
	b, ok := m.blocks[h]
	m.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("block %s: %w", h, ErrNotFound)
	}
	return chain.DecodeBlock(own(b.raw))
}

// MainHash returns the main-chain block at height, if there is one.
func (m *Memory) MainHash(height uint64) (chain.Hash, bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	h, ok := m.main[height]
	if !ok {
		return chain.Hash{}, false, nil
	}
	return h.Value(), true, nil
}

// Account returns an account's state at the tip; an account never touched is
// the zero Account.
func (m *Memory) Account(a chain.Address) (chain.Account, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.accounts[a], nil
}

// Undo returns the account changes a main-chain block made.
func (m *Memory) Undo(h chain.Hash) ([]chain.AccountChange, error) {
	m.mu.RLock()
	enc, ok := m.undo[h]
	m.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("undo data of %s: %w", h, ErrNotFound)
	}
	return chain.DecodeChanges(own(enc))
}

// TxBlock returns the main-chain block that holds a transaction, if any.
func (m *Memory) TxBlock(txid chain.Hash) (chain.Hash, bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	height, ok := m.txs[txid]
	if !ok {
		return chain.Hash{}, false, nil
	}
	return m.main[height].Value(), true, nil
}

// ForEachAccount calls fn for every account with state, in the order of
// their addresses' bytes as Store does.
func (m *Memory) ForEachAccount(fn func(chain.Address, chain.Account) error) error {
	type account struct {
		addr chain.Address
		acc  chain.Account
	}
	m.mu.RLock()
	list := make([]account, 0, len(m.accounts))
	for a, acc := range m.accounts {
		list = append(list, account{a, acc})
	}
	m.mu.RUnlock()
	slices.SortFunc(list, func(x, y account) int { return bytes.Compare(x.addr[:], y.addr[:]) })
	for _, a := range list {
		if err := fn(a.addr, a.acc); err != nil {
			return err
		}
	}
	return nil
}

// Connect makes u.Hash the main chain's block at u.Height: accounts as
// every change's New, its undo data, its transactions and the tip.
func (m *Memory) Connect(u chain.Update) error {
	undo := intern(chain.EncodeChanges(u.Changes))
	m.mu.Lock()
	defer m.mu.Unlock()
	m.connect(u, undo)
	m.tip = u.Tip
	return nil
}

// ConnectBlocks stores and connects a run of blocks, each on the one before
// it, as PutBlock and Connect of each would; a run Store refuses (see
// checkRun) is refused before anything is written, so nothing of it stays.
func (m *Memory) ConnectBlocks(bs []chain.BlockUpdate) error {
	if len(bs) == 0 {
		return nil
	}
	// Everything the run writes is made before the lock.
	hashes := make([]chain.Hash, len(bs))
	blocks := make([]memBlock, len(bs))
	undos := make([]bytesHandle, len(bs))
	for i, b := range bs {
		hashes[i] = b.Entry.Header.Hash()
		blocks[i] = memBlock{entry: b.Entry, raw: intern(b.Raw)}
		undos[i] = intern(chain.EncodeChanges(b.Update.Changes))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, b := range bs {
		var prev *chain.Hash
		if i > 0 {
			prev = &hashes[i-1]
		}
		_, stored := m.blocks[b.Entry.Header.PrevBlock]
		if err := checkRun(b.Entry.Header, hashes[i], prev, stored); err != nil {
			return err
		}
	}
	for i, b := range bs {
		m.blocks[hashes[i]] = blocks[i]
		m.connect(b.Update, undos[i])
	}
	m.tip = bs[len(bs)-1].Update.Tip
	return nil
}

// connect writes what a block adds to the main chain beside the tip; m.mu
// is held.
func (m *Memory) connect(u chain.Update, undo bytesHandle) {
	m.putAccounts(u.Changes, newAccount)
	m.undo[u.Hash] = undo
	block := unique.Make(u.Hash)
	for _, id := range u.Txs {
		m.txs[id] = u.Height
	}
	m.main[u.Height] = block
}

// Disconnect removes the main chain's tip block u.Hash: accounts as every
// change's Old, and its undo data, transactions and height go.
func (m *Memory) Disconnect(u chain.Update) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.putAccounts(u.Changes, oldAccount)
	delete(m.undo, u.Hash)
	for _, id := range u.Txs {
		delete(m.txs, id)
	}
	delete(m.main, u.Height)
	m.tip = u.Tip
	return nil
}

// putAccounts writes the side of each change that pick selects; an
// untouched (zero) account is deleted rather than kept. m.mu is held.
func (m *Memory) putAccounts(cs []chain.AccountChange, pick func(chain.AccountChange) chain.Account) {
	for _, c := range cs {
		if acc := pick(c); acc == (chain.Account{}) {
			delete(m.accounts, c.Address)
		} else {
			m.accounts[c.Address] = acc
		}
	}
}

// PutPeer records that a peer was reachable at addr; a full book forgets
// the least recently seen peer, the first by address among equals, as
// Store's does.
func (m *Memory) PutPeer(addr string, seen time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, known := m.peers[addr]; !known && len(m.peers) >= maxPeers {
		oldest, oldestSeen := "", uint64(1<<64-1)
		for a, t := range m.peers {
			if t < oldestSeen || t == oldestSeen && a < oldest {
				oldest, oldestSeen = a, t
			}
		}
		delete(m.peers, oldest)
	}
	m.peers[strings.Clone(addr)] = uint64(seen.Unix())
	return nil
}

// Peers lists the peer book's addresses, in order.
func (m *Memory) Peers() ([]string, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if len(m.peers) == 0 {
		return nil, nil
	}
	return slices.Sorted(maps.Keys(m.peers)), nil
}
