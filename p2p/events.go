package p2p

// PeerEvent tells a subscriber that a peer joined (finished the handshake)
// or left (was dropped after it).
type PeerEvent struct {
	Kind string   `json:"event"` // "joined" or "left"
	Peer PeerInfo `json:"peer"`
}

// peerEventBuffer is how many events wait for a subscriber before newer
// ones are dropped.
const peerEventBuffer = 32

// SubscribePeers returns a channel that receives an event whenever a peer
// joins or leaves. The peer layer never waits for a subscriber: one that
// falls peerEventBuffer events behind misses the events that follow until
// it catches up. cancel ends the subscription; calling it again does nothing.
func (s *Server) SubscribePeers() (events <-chan PeerEvent, cancel func()) {
	return s.peerEvents.Subscribe(peerEventBuffer)
}

// notifyPeer sends an event about p to every subscriber with room for it.
func (s *Server) notifyPeer(kind string, p *peer) {
	s.peerEvents.Publish(PeerEvent{Kind: kind, Peer: p.info()})
}
