package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/hashforge/hashforge/apiclient"
	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/stratum"
)

// Intervals of an event stream: hashrate ticks for charts, and a comment
// line when nothing else was sent, so proxies and browsers keep it open.
const (
	hashrateTick  = 2 * time.Second
	keepaliveTick = 15 * time.Second
	writeWait     = 10 * time.Second
)

// streamEvents answers GET /api/events with Server-Sent Events: "hello" with
// the node's status, then "tip" (a BlockSummary) on every new tip, "peer" when
// a peer joins or leaves, "hashrate" every few seconds and, on a node
// serving Stratum, "stratum-block" (a StratumBlock) when a worker finds one.
func (s *Server) streamEvents(w http.ResponseWriter, r *http.Request) {
	select {
	case s.events <- struct{}{}:
		defer func() { <-s.events }()
	default:
		writeError(w, http.StatusServiceUnavailable, codeBusy, fmt.Sprintf("%d event streams are open already", maxEventStreams))
		return
	}
	// Subscribe before the first event, so no tip falls between them.
	tips, cancelTips := s.cfg.Chain.Subscribe()
	defer cancelTips()
	peers, cancelPeers := s.cfg.Peers.SubscribePeers()
	defer cancelPeers()
	var ticks <-chan time.Time
	if s.cfg.Miner != nil {
		t := time.NewTicker(hashrateTick)
		defer t.Stop()
		ticks = t.C
	}
	var found <-chan stratum.BlockFound
	if s.cfg.Stratum != nil {
		var cancelFound func()
		found, cancelFound = s.cfg.Stratum.SubscribeBlocks()
		defer cancelFound()
	}
	keepalive := time.NewTicker(keepaliveTick)
	defer keepalive.Stop()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx would hold events back
	w.WriteHeader(http.StatusOK)

	rc := http.NewResponseController(w)
	// write sends one event or comment, each under its own deadline in
	// place of the server's write timeout: a stream outlives that, and a
	// client that stops reading is dropped at the deadline instead of
	// holding the stream forever.
	write := func(text string) bool {
		rc.SetWriteDeadline(time.Now().Add(writeWait))
		_, err := fmt.Fprint(w, text)
		if err == nil {
			err = rc.Flush()
		}
		keepalive.Reset(keepaliveTick)
		return err == nil
	}
	send := func(event string, data any) bool {
		b, err := json.Marshal(data)
		return err == nil && write(fmt.Sprintf("event: %s\ndata: %s\n\n", event, b))
	}
	if !send("hello", s.snapshot()) {
		return
	}
	for {
		alive := true
		select {
		case <-r.Context().Done():
			return
		case tip := <-tips:
			var b *chain.Block
			err := s.cfg.Chain.View(func(v *chain.View) (err error) {
				b, err = v.Block(tip.Hash)
				return err
			})
			if err != nil {
				continue // a block the store cannot read is the node log's concern
			}
			alive = send("tip", summarize(b, tip.Height))
		case e := <-peers:
			alive = send("peer", apiclient.PeerChange{Event: e.Kind, Peer: apiclient.Peer(e.Peer)})
		case now := <-ticks:
			alive = send("hashrate", apiclient.HashrateTick{
				Time:     float64(now.UnixMilli()) / 1000,
				Hashrate: ratesOf(s.cfg.Miner.Windows(), s.cfg.Miner.Hashrate),
				Devices:  s.devices(),
			})
		case b := <-found:
			alive = send("stratum-block", apiclient.StratumBlock(b))
		case <-keepalive.C:
			alive = write(": keepalive\n\n")
		}
		if !alive {
			return
		}
	}
}
