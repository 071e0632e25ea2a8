package p2p

import (
	"context"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/p2p/wire"
)

// Block relay: announcements of new tips, and the inventory requests they
// lead to. Transactions travel the same way (txrelay.go).

// relay announces each new tip to every peer, even one that has the block
// (it sent it to us): the announcement is how a peer learns our tip, for
// agreement. Blocks themselves travel once per peer: only announced blocks
// a node lacks are fetched, and only a node whose tip changed announces, so
// every flood ends. It announces every transaction the pool admits, from
// peers or not, to the peers that have not seen it: a transaction, too,
// travels once per peer.
func (s *Server) relay(ctx context.Context) {
	tips, cancelTips := s.chain.Subscribe()
	defer cancelTips()
	txs, cancelTxs := s.pool.Subscribe()
	defer cancelTxs()
	for {
		select {
		case <-ctx.Done():
			return
		case tx := <-txs:
			s.announceAdmitted(waiting(txs, tx))
		case t := <-tips:
			s.newTip(t)
		}
	}
}

// newTip tells every peer of our new tip, and offers the pool the orphans
// the tip may have made valid.
func (s *Server) newTip(t chain.Tip) {
	s.broadcast(wire.NewMsgInv([]wire.InvItem{{Type: wire.InvBlock, Hash: t.Hash}}), nil)
	s.retryOrphans()
}

// announceAdmitted announces transactions the pool admitted, and offers it
// the orphans each makes valid.
func (s *Server) announceAdmitted(batch []*chain.Tx) {
	s.announceTxs(batch)
	for _, tx := range batch {
		s.adoptOrphan(tx)
	}
}

// onInv asks, in one getdata, for the announced blocks we do not have (on
// any branch) and the transactions we want, in the order announced: a
// sender's transactions are then offered to the pool in nonce order.
func (s *Server) onInv(p *peer, m *wire.MsgInv) {
	var want []wire.InvItem
	tip := s.chain.Tip().Hash
	for _, it := range m.Items {
		switch it.Type {
		case wire.InvBlock:
			if s.wantBlock(it.Hash) {
				want = append(want, it)
			}
			// Nodes announce their tips: one announcing ours has it.
			s.noteTip(p, it.Hash)
		case wire.InvTx:
			p.seen(it.Hash)
			if s.wantTx(it.Hash, tip) {
				want = append(want, it)
			}
		}
	}
	if len(want) > 0 {
		p.send(wire.NewMsgGetData(want))
	}
}

// wantBlock reports whether to ask for an announced block, and if so
// records that it is asked for. A new block is announced by most peers
// within its propagation time: each would send it whole if asked, so it is
// asked of the first, and of another only once blockStall has passed
// without it (or a sync fetches it from a peer ahead of us).
func (s *Server) wantBlock(id chain.Hash) bool {
	if s.chain.Have(id) {
		return false
	}
	now := s.now()
	s.txs.mu.Lock()
	defer s.txs.mu.Unlock()
	if at, ok := s.txs.blocks.get(id); ok && now.Sub(time.Unix(0, at)) < blockStall {
		return false
	}
	s.txs.blocks.put(id, now.UnixNano())
	return true
}

// onGetData answers, in the order asked, with every object we have, then one
// notfound naming the rest.
func (s *Server) onGetData(p *peer, m *wire.MsgGetData) {
	var missing []wire.InvItem
	for _, it := range m.Items {
		if obj := s.object(p, it); obj != nil {
			p.answer(obj)
		} else {
			missing = append(missing, it)
		}
	}
	if len(missing) > 0 {
		p.answer(wire.NewMsgNotFound(missing))
	}
}

// object is the message that carries an item p asked for, or nil when we
// do not have it.
func (s *Server) object(p *peer, it wire.InvItem) wire.Message {
	switch it.Type {
	case wire.InvBlock:
		if b, err := s.chain.Block(it.Hash); err == nil {
			return &wire.MsgBlock{Block: b}
		}
	case wire.InvTx:
		if tx, ok := s.pool.Get(it.Hash); ok {
			p.seen(it.Hash)
			return &wire.MsgTx{Tx: tx}
		}
	}
	return nil
}
