package p2p

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/p2p/wire"
)

// Block download. Sync (sync.go) checks a peer's headers ahead of their
// blocks; the download asks for those blocks from every peer that has the
// headers, a getdata window per peer, and connects them in chain order in
// runs of one store transaction each, so the disk syncs once per run.

const (
	chunkBlocks  = 128  // blocks one getdata asks for
	peerInFlight = 1024 // blocks asked of one peer and not yet received
	maxWindow    = 8192 // blocks asked for beyond the last one connected
	// windowBytes bounds the window by the blocks' average size: a chain of
	// full blocks gets a window of a few dozen, one of empty blocks the most.
	windowBytes = 32 << 20
	runBlocks   = 4000    // most blocks one store transaction connects
	runBytes    = 4 << 20 // most bytes of blocks it connects
	// runWait is how long received blocks wait for more to make a longer
	// run: a store transaction per block would cost a disk sync per block.
	runWait = 100 * time.Millisecond
	// blockStall is how long a peer may send none of the blocks asked of
	// it before they are asked of another peer; stallCheck how often the
	// connector looks.
	blockStall = 3 * time.Second
	stallCheck = 250 * time.Millisecond
)

// download is the state of the block download; mu guards what follows it.
type download struct {
	now  func() time.Time // the server's clock
	wake chan struct{}    // the connector has a run to look at

	mu         sync.Mutex
	stall      time.Duration      // blockStall; tests change it
	headers    *chain.HeaderChain // checked headers; nil: none
	next       uint64             // height of the next block to connect
	asked      uint64             // heights [next, asked) are asked for
	ready      uint64             // heights [next, ready) are received
	readyBytes int
	readySince time.Time // when the blocks from next on began to arrive
	avgSize    float64   // of the blocks received, sizing the window
	slots      map[chain.Hash]*slot
	retry      []*slot // released by a peer: to ask of another
	peers      map[*peer]*fetcher
}

// slot is one block asked for.
type slot struct {
	height uint64
	hash   chain.Hash
	peer   *peer // asked of; nil while waiting to be asked again
	at     time.Time
	failed *peer // the last peer that did not send it
	block  *chain.Block
	from   *peer // sent it
	size   int
}

// fetcher is what the download knows of one peer.
type fetcher struct {
	inFlight int
	sent     uint64    // the peer sent us the headers below this height
	since    time.Time // of its last block, or of the ask that found it idle
	stalled  time.Time // when it last let blocks stall
}

func newDownload(now func() time.Time) *download {
	return &download{
		now:     now,
		stall:   blockStall,
		wake:    make(chan struct{}, 1),
		avgSize: 256 << 10, // until blocks show their size: a window of 128
		slots:   make(map[chain.Hash]*slot),
		peers:   make(map[*peer]*fetcher),
	}
}

func (d *download) fetcher(p *peer) *fetcher {
	f := d.peers[p]
	if f == nil {
		f = &fetcher{}
		d.peers[p] = f
	}
	return f
}

// addHeaders checks headers p sent and adds them to the branch to download.
// A branch that changed below what was asked for starts the download over.
func (s *Server) addHeaders(p *peer, hs []chain.Header) error {
	s.mu.Lock()
	syncPeer := s.syncPeer
	s.mu.Unlock()
	d := s.dl
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.headers == nil {
		d.headers = s.chain.NewHeaderChain()
	}
	// While blocks of the branch remain to fetch, only the sync peer may
	// start it over: another peer's headers may begin a lighter branch,
	// and two peers on two branches would take turns restarting it.
	if end := d.headers.End(); p != syncPeer && d.next < end && len(hs) > 0 && hs[0].PrevBlock != d.hash(end-1) {
		return nil
	}
	// The branch starts where the download is, at next, unless it was
	// replaced or started anew.
	replaced, err := d.headers.Add(hs)
	if replaced || d.headers.Base() != d.next {
		d.restart()
	}
	for i := len(hs) - 1; i >= 0; i-- {
		if h, ok := d.headers.Height(hs[i].Hash()); ok {
			f := d.fetcher(p)
			f.sent = max(f.sent, h+1)
			break
		}
	}
	return err
}

// restart forgets every block asked for and starts at the branch's base.
func (d *download) restart() { d.rewind(d.headers.Base()) }

// reset drops the branch: its blocks broke a rule.
func (d *download) reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.headers = nil
	for _, f := range d.peers {
		f.sent = 0
	}
	d.rewind(0)
}

// rewind forgets every block asked for: the download goes on from height.
func (d *download) rewind(height uint64) {
	clear(d.slots)
	d.retry = nil
	for _, f := range d.peers {
		f.inFlight = 0
	}
	d.next, d.asked, d.ready = height, height, height
	d.readyBytes, d.readySince = 0, time.Time{}
}

// lastHeader is the branch's last header, which a getheaders asks past.
func (d *download) lastHeader() *chain.Hash {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.headers == nil || d.headers.End() == d.headers.Base() {
		return nil
	}
	h, _ := d.headers.Hash(d.headers.End() - 1)
	return &h
}

// pending reports whether blocks of the branch remain to be connected.
func (d *download) pending() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.headers != nil && d.next < d.headers.End()
}

// deliver takes a block p sent. It reports whether the download asked for
// it, and whether a peer has room for another chunk now.
func (d *download) deliver(p *peer, b *chain.Block) (taken, room bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	sl := d.slots[b.Hash()]
	if sl == nil {
		return false, false
	}
	now := d.now()
	d.fetcher(p).since = now
	if sl.block != nil {
		return true, false // asked again of a second peer, and both sent it
	}
	sl.block, sl.from, sl.size = b, p, b.Size()
	d.avgSize += (float64(sl.size) - d.avgSize) / 16
	if sl.peer != nil {
		// Asked again as each chunk's worth comes in, so that the peer
		// always has blocks to send.
		perPeer, chunk := d.perPeer()
		free := perPeer - d.peers[sl.peer].inFlight + 1
		room = free > 0 && free%chunk == 0
	}
	d.release(sl)
	if sl.height != d.ready {
		return true, room
	}
	for sl != nil && sl.block != nil {
		d.ready++
		d.readyBytes += sl.size
		h, _ := d.headers.Hash(d.ready)
		sl = d.slots[h]
	}
	// The connector looks when a run begins, to time its wait, and when
	// it is as long as a run gets; not at every block.
	if d.readySince.IsZero() || d.ready-d.next >= runBlocks || d.readyBytes >= runBytes || d.ready == d.asked {
		if d.readySince.IsZero() {
			d.readySince = now
		}
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}
	return true, room
}

// release takes a slot from the peer it is asked of.
func (d *download) release(sl *slot) {
	if sl.peer != nil {
		d.peers[sl.peer].inFlight--
		sl.peer = nil
	}
}

// giveUp releases the blocks asked of p and not received, to be asked of
// another peer; only, when only is not nil.
func (d *download) giveUp(p *peer, only map[chain.Hash]bool) {
	d.fetcher(p).stalled = d.now()
	var given []*slot
	for _, sl := range d.slots {
		if sl.peer == p && sl.block == nil && (only == nil || only[sl.hash]) {
			given = append(given, sl)
		}
	}
	// Lowest first, not in a map's order: the lowest blocks hold up the
	// chain's progress, and a simulated run must repeat.
	slices.SortFunc(given, func(a, b *slot) int { return cmp.Compare(a.height, b.height) })
	for _, sl := range given {
		d.release(sl)
		sl.failed = p
		d.retry = append(d.retry, sl)
	}
}

// onNotFound asks another peer for the blocks p says it lacks.
func (s *Server) onNotFound(p *peer, m *wire.MsgNotFound) {
	missing := make(map[chain.Hash]bool)
	for _, it := range m.Items {
		if it.Type == wire.InvBlock {
			missing[it.Hash] = true
		}
	}
	s.dl.mu.Lock()
	s.dl.giveUp(p, missing)
	s.dl.mu.Unlock()
	s.fill()
}

// take returns the next run to connect, or how long to wait for it to grow.
func (d *download) take(now time.Time) (run []*slot, wait time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.headers == nil || d.ready == d.next {
		return nil, 0
	}
	waited := now.Sub(d.readySince)
	if d.ready-d.next < runBlocks && d.readyBytes < runBytes && d.ready < d.asked && waited < runWait {
		return nil, runWait - waited
	}
	bytes := 0
	for h := d.next; h < d.ready && len(run) < runBlocks && (len(run) == 0 || bytes+d.slots[d.hash(h)].size <= runBytes); h++ {
		sl := d.slots[d.hash(h)]
		run = append(run, sl)
		bytes += sl.size
	}
	return run, 0
}

func (d *download) hash(height uint64) chain.Hash {
	h, _ := d.headers.Hash(height)
	return h
}

// connected records that the first n blocks of run are in the chain.
func (d *download) connected(run []*slot, n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.headers == nil || len(run) == 0 || run[0].height != d.next || d.slots[run[0].hash] != run[0] {
		return // the download started over meanwhile
	}
	for _, sl := range run[:n] {
		delete(d.slots, sl.hash)
		d.readyBytes -= sl.size
	}
	d.next += uint64(n)
	d.headers.Forget(d.next)
	d.readySince = time.Time{}
	if d.ready > d.next {
		d.readySince = d.now()
	}
}

// connectRun hands a run to the chain: the blocks it takes are stored in
// one transaction. A block that breaks a rule is its sender's fault, and
// the download starts over. It reports false on a store error.
func (s *Server) connectRun(ctx context.Context, run []*slot) bool {
	blocks := make([]*chain.Block, len(run))
	for i, sl := range run {
		blocks[i] = sl.block
	}
	n, err := s.chain.ProcessBlocks(ctx, blocks)
	s.dl.connected(run, n)
	if n > 0 {
		s.noteTip(run[n-1].from, run[n-1].hash)
	}
	switch chain.Code(err) {
	case "":
		if err != nil {
			s.log.Error("connect downloaded blocks", "height", run[n].height, "err", err)
			return false
		}
	case chain.ErrOrphan, chain.ErrTimeTooNew:
		s.dl.reset()
	default:
		s.misbehave(run[n].from, banThreshold, err)
		s.dl.reset()
	}
	s.syncProgress()
	return true
}

// connectLoop connects the downloaded blocks in runs and keeps the peers
// asked for more, until ctx ends.
func (s *Server) connectLoop(ctx context.Context) {
	d := s.dl
	tick := time.NewTicker(stallCheck)
	defer tick.Stop()
	for {
		run, wait := d.take(d.now())
		if run != nil {
			if !s.connectRun(ctx, run) {
				// The store failed: try again after a tick, not in a spin.
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
			}
			s.fill()
			continue
		}
		var grown <-chan time.Time
		if wait > 0 {
			grown = time.After(wait)
		}
		select {
		case <-ctx.Done():
			return
		case <-d.wake:
		case <-grown:
		case <-tick.C:
			s.checkStalls()
			s.fill()
		}
	}
}

// checkStalls asks other peers for the blocks of a peer that is gone or
// has sent none of them for the stall time, or that holds up the block
// the chain needs next for that long.
func (s *Server) checkStalls() {
	d := s.dl
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.headers == nil {
		return
	}
	now := d.now()
	var blocking *peer
	if sl := d.slots[d.hash(d.next)]; sl != nil && sl.peer != nil && now.Sub(sl.at) > d.stall {
		blocking = sl.peer
	}
	// In the order the peers connected, not a map's: the blocks given up
	// are asked again in that order, and a simulated run must repeat.
	for _, p := range slices.SortedFunc(maps.Keys(d.peers), func(a, b *peer) int { return cmp.Compare(a.seq, b.seq) }) {
		f := d.peers[p]
		gone := p.closing()
		if f.inFlight > 0 && (gone || p == blocking || now.Sub(f.since) > d.stall) {
			s.log.Info("peer stalled the block download", "addr", p.addr, "blocks", f.inFlight, "gone", gone)
			d.giveUp(p, nil)
		}
		if gone {
			delete(d.peers, p)
		}
	}
}

// fill asks peers for blocks: first those another peer did not send, then
// the next heights of the branch, a chunk at a time, round the peers that
// have the headers, while they have room and the window allows.
func (s *Server) fill() {
	d := s.dl
	if !d.pending() {
		return // no branch to fetch: the peers need not be listed
	}
	peers := s.fetchPeers()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.headers == nil || len(peers) == 0 {
		return
	}
	now := d.now()
	has := make(map[*peer]uint64, len(peers))
	for _, p := range peers {
		has[p] = d.fetcher(p).sent
		if h, ok := d.headers.Height(p.tipInfo().Hash); ok {
			has[p] = max(has[p], h+1)
		}
	}
	perPeer, chunk := d.perPeer()
	asks := make(map[*peer][]wire.InvItem)
	ask := func(p *peer, sl *slot) {
		f := d.peers[p]
		if f.inFlight == 0 {
			f.since = now
		}
		f.inFlight++
		sl.peer, sl.at = p, now
		asks[p] = append(asks[p], wire.InvItem{Type: wire.InvBlock, Hash: sl.hash})
	}
	// pick is a peer with room that has the header at height: one that did
	// not fail us lately if there is one. The peer that failed to send the
	// block is asked again only once the stall time has passed, so a peer
	// that keeps answering notfound is not asked in a loop.
	pick := func(height uint64, avoid *peer) *peer {
		var fallback *peer
		for _, p := range peers {
			f := d.peers[p]
			if has[p] <= height || f.inFlight >= perPeer {
				continue
			}
			if p != avoid && now.Sub(f.stalled) > 10*d.stall {
				return p
			}
			if p != avoid || now.Sub(f.stalled) > d.stall {
				fallback = p
			}
		}
		return fallback
	}

	retry := d.retry
	d.retry = nil
	for _, sl := range retry {
		if sl.block != nil || sl.peer != nil || d.slots[sl.hash] != sl {
			continue
		}
		if p := pick(sl.height, sl.failed); p != nil {
			ask(p, sl)
		} else {
			d.retry = append(d.retry, sl)
		}
	}
	end := min(d.headers.End(), d.next+uint64(d.window()))
	for d.asked < end {
		p := pick(d.asked, nil)
		if p == nil {
			break
		}
		for range min(chunk, perPeer-d.peers[p].inFlight, int(min(end, has[p])-d.asked)) {
			sl := &slot{height: d.asked, hash: d.hash(d.asked)}
			d.slots[sl.hash] = sl
			ask(p, sl)
			d.asked++
		}
		// The next chunk goes to the next peer.
		peers = append(peers[1:], peers[0])
	}
	for p, items := range asks {
		p.send(wire.NewMsgGetData(items))
	}
}

// window is how many blocks may be asked for beyond the last connected.
func (d *download) window() int {
	return int(min(maxWindow, max(1, windowBytes/d.avgSize)))
}

// perPeer is how many blocks one peer may have outstanding, and how many
// one getdata asks for: a peer gets at most a quarter of the window, so a
// slow one holds up little of it.
func (d *download) perPeer() (blocks, chunk int) {
	blocks = min(peerInFlight, max(1, d.window()/4))
	return blocks, min(chunkBlocks, blocks)
}

// fetchPeers lists the peers past their handshake, in a random order: the
// first chunks of a window do not always go to the same peer.
func (s *Server) fetchPeers() []*peer {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*peer
	for p := range s.peers.all() {
		if p.ready() && !p.closing() {
			out = append(out, p)
		}
	}
	s.shuffle.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return slices.Clip(out)
}
