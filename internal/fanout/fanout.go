// Package fanout hands each event of a publisher to every subscriber
// without ever waiting for one: the peer layer, the mempool and the Stratum
// server publish from paths that must not stall on a slow reader (an event
// stream to a browser), so a subscriber that falls a buffer behind misses
// what follows until it catches up.
package fanout

import "sync"

// Fanout is a set of subscribers to events of type T. The zero value is
// ready to use.
type Fanout[T any] struct {
	mu   sync.Mutex
	subs map[chan T]struct{}
}

// Subscribe returns a channel that receives every event published from now
// on, with room for buffer events not yet read. cancel ends the
// subscription; calling it again does nothing.
func (f *Fanout[T]) Subscribe(buffer int) (events <-chan T, cancel func()) {
	ch := make(chan T, buffer)
	f.mu.Lock()
	if f.subs == nil {
		f.subs = make(map[chan T]struct{})
	}
	f.subs[ch] = struct{}{}
	f.mu.Unlock()
	return ch, func() {
		f.mu.Lock()
		delete(f.subs, ch)
		f.mu.Unlock()
	}
}

// Publish offers v to every subscriber and returns how many had no room
// for it, so the publisher can say that someone is behind.
func (f *Fanout[T]) Publish(v T) (missed int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range f.subs {
		select {
		case ch <- v:
		default:
			missed++
		}
	}
	return missed
}
