package hasher

import (
	"sync"
	"time"
)

// Slots are a GPU device's launch slots (a queue or stream with its
// buffers): each Search holds one, so a device with two keeps a launch
// going while the host reads the other's hits. Close waits for the
// searches in flight, but not forever: a launch that hung (the watchdog
// stopped the device) keeps its slot, and the device must leave the
// driver's objects alone.
type Slots[T any] struct {
	free chan T
	n    int

	mu     sync.Mutex
	closed bool
}

// NewSlots makes every slot free.
func NewSlots[T any](slots []T) *Slots[T] {
	p := &Slots[T]{free: make(chan T, len(slots)), n: len(slots)}
	for _, s := range slots {
		p.free <- s
	}
	return p
}

// Take waits for a free slot; ok is false once the device is closed.
func (p *Slots[T]) Take() (s T, ok bool) {
	s = <-p.free
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		p.free <- s
		var zero T
		return zero, false
	}
	return s, true
}

// Put frees a slot Take gave.
func (p *Slots[T]) Put(s T) { p.free <- s }

// Close marks the slots closed and waits at most wait for every slot to be
// free. already: Close was called before. idle: no search holds a slot, so
// the device may release what the slots use. Later Takes fail either way.
func (p *Slots[T]) Close(wait time.Duration) (already, idle bool) {
	p.mu.Lock()
	already, p.closed = p.closed, true
	p.mu.Unlock()
	if already {
		return true, false
	}
	timeout := time.After(wait)
	var got []T
	defer func() {
		for _, s := range got {
			p.free <- s
		}
	}()
	for range p.n {
		select {
		case s := <-p.free:
			got = append(got, s)
		case <-timeout:
			return false, false
		}
	}
	return false, true
}
