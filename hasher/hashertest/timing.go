package hashertest

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashforge/hashforge/hasher"
)

// Search is one Search call a TimedDevice saw: which work it hashed, its
// nonces, and when it started and ended. End is zero while it runs.
type Search[K comparable] struct {
	Work         K
	Start, Count uint32
	Began, End   time.Time
}

// TimingLanes is how many CPU lanes a test that times lanes by the wall
// clock should open: two, to see more than one lane leave old work, but
// never every core. With every core hashing, the lanes, the race detector,
// the GC and the code under test (a miner's loop) take turns on the CPUs, and
// a 2 ms range or a miner's reaction to a new tip stretches to tens of
// milliseconds: the test then measures the OS's scheduling, not ours. (On 2
// cores under -race, one test at a time, 2 lanes broke the 10 ms bound in
// about one run in ten; 1 lane kept every switch under 4 ms.)
func TimingLanes() int { return max(1, min(2, runtime.NumCPU()-1)) }

// TimedDevice wraps a real device and records every Search, start and end,
// to see how quickly lanes leave stale work. Recording only when ranges end
// cannot see a range that is still running: a lane stuck on stale work for
// seconds would look like one that left it at once. Key names the work
// of a header (its first byte, its parent block), so every header a miner
// builds on one tip counts as one work.
type TimedDevice[K comparable] struct {
	hasher.Device
	Key func(*hasher.Work) K

	mu       sync.Mutex
	searches []Search[K]
}

// NewTimedDevice wraps d, naming each header's work with key.
func NewTimedDevice[K comparable](d hasher.Device, key func(*hasher.Work) K) *TimedDevice[K] {
	return &TimedDevice[K]{Device: d, Key: key}
}

func (d *TimedDevice[K]) Search(w *hasher.Work, start, count uint32, hits []uint32) ([]uint32, error) {
	d.mu.Lock()
	i := len(d.searches)
	d.searches = append(d.searches, Search[K]{Work: d.Key(w), Start: start, Count: count, Began: time.Now()})
	d.mu.Unlock()
	hits, err := d.Device.Search(w, start, count, hits)
	end := time.Now()
	d.mu.Lock()
	d.searches[i].End = end
	d.mu.Unlock()
	return hits, err
}

// Searches returns a copy of every Search recorded so far.
func (d *TimedDevice[K]) Searches() []Search[K] {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.searches)
}

// Switches times want switches of work on the device, each within limit.
// switchTo makes switch i (1, 2, ...), waits long enough for lanes that obey
// the limit to have left the old work (tens of limits), and returns the old
// and new work and when the new work became current.
//
// A switch fails the test if
//   - the old work was never hashed before the switch: with nothing to
//     leave, the switch measures nothing;
//   - any Search of the old work is still running at the check, or ended
//     more than limit after the switch: a lane kept hashing work that can
//     no longer win;
//   - no Search of the new work has completed since the switch: lanes that
//     left the old work must go on to the new, not idle.
//
// A wall clock also measures the OS: on a small machine whose cores the
// lanes fill, a lane thread now and then loses its core for ~10 ms, and a 2
// ms range ends late through no fault of ours. A switch is therefore not
// counted, and another is made, when its only faults are such stalls: ranges
// of the old work that ran at least stallFactor times slower per nonce than
// the old work's median Search, and that at the median's speed would have
// ended within limit. A range sized too big runs at the usual speed and
// still fails, as does a range begun late, one still running, or a device
// whose stalls outlast maxStalled extra switches.
func (d *TimedDevice[K]) Switches(t testing.TB, want int, limit time.Duration, switchTo func(i int) (stale, fresh K, switched time.Time)) {
	t.Helper()
	const (
		stallFactor = 3
		maxStalled  = 3
	)
	stalled := 0
	for i, counted := 1, 0; counted < want; i++ {
		stale, fresh, switched := switchTo(i)
		name := fmt.Sprintf("switch %d", i)
		if !d.checkSwitch(t, name, stale, fresh, switched, limit, stallFactor) {
			counted++
			continue
		}
		if stalled++; stalled > maxStalled {
			t.Errorf("%s: %d switches were disturbed by stalled ranges (logged above): the test cannot time %v here", name, stalled, limit)
			return
		}
	}
}

// checkSwitch judges one switch, now, as Switches says: it fails the test,
// or logs the lag, and reports whether stalls alone broke the limit, so the
// switch does not count.
func (d *TimedDevice[K]) checkSwitch(t testing.TB, name string, stale, fresh K, switched time.Time, limit time.Duration, stallFactor float64) (stalled bool) {
	t.Helper()
	now := time.Now()
	var (
		staleBefore, freshAfter int
		lastEnd                 time.Time // of the old work's Searches that ended
		running, late           []Search[K]
		perNonce                []float64 // seconds per nonce of the old work's ended Searches
	)
	for _, s := range d.Searches() {
		switch s.Work {
		case stale:
			if s.Began.Before(switched) {
				staleBefore++
			}
			switch {
			case s.End.IsZero():
				running = append(running, s)
				continue
			case s.End.Sub(switched) > limit:
				late = append(late, s)
			}
			perNonce = append(perNonce, s.End.Sub(s.Began).Seconds()/float64(s.Count))
			if s.End.After(lastEnd) {
				lastEnd = s.End
			}
		case fresh:
			if !s.End.IsZero() && s.End.After(switched) {
				freshAfter++
			}
		}
	}

	failed := false
	if staleBefore == 0 {
		failed = true
		t.Errorf("%s: the old work %v was never hashed before the switch, so leaving it proves nothing", name, stale)
	}
	if len(running) > 0 {
		failed = true
		s := running[0] // the longest running: Searches are recorded as they begin
		t.Errorf("%s: %d Search(es) of the old work still running %v after the switch, limit %v; the first, nonces [%d, +%d), began %s",
			name, len(running), now.Sub(switched).Round(time.Microsecond), limit, s.Start, s.Count, since(switched, s.Began))
	}
	if freshAfter == 0 {
		failed = true
		t.Errorf("%s: no Search of the new work %v completed in the %v after the switch", name, fresh, now.Sub(switched).Round(time.Microsecond))
	}
	// Late ranges: each is a stall, or a fault of the code under test.
	var stalls, faults []Search[K]
	var usual float64 // seconds per nonce, the old work's median
	if len(perNonce) > 0 {
		slices.Sort(perNonce)
		usual = perNonce[len(perNonce)/2]
	}
	for _, s := range late {
		took := s.End.Sub(s.Began)
		atUsual := time.Duration(usual * float64(s.Count) * float64(time.Second))
		if float64(took) >= stallFactor*float64(atUsual) && s.Began.Add(atUsual).Sub(switched) <= limit {
			stalls = append(stalls, s)
		} else {
			faults = append(faults, s)
		}
	}
	if len(faults) > 0 {
		failed = true
		worst := slices.MaxFunc(faults, func(a, b Search[K]) int { return a.End.Compare(b.End) })
		t.Errorf("%s: %d Search(es) of the old work ended over %v after the switch; the last, nonces [%d, +%d), began %s and ended %s",
			name, len(faults), limit, worst.Start, worst.Count, since(switched, worst.Began), since(switched, worst.End))
	}
	switch {
	case failed:
		return false
	case len(stalls) > 0:
		s := stalls[0]
		atUsual := time.Duration(usual * float64(s.Count) * float64(time.Second))
		t.Logf("%s: not counted: %d range(s) of the old work stalled past %v; nonces [%d, +%d) began %s and took %v, not the usual %v",
			name, len(stalls), limit, s.Start, s.Count, since(switched, s.Began), s.End.Sub(s.Began).Round(time.Microsecond), atUsual.Round(time.Microsecond))
		return true
	default:
		t.Logf("%s: the last Search of the old work ended %s; %d Searches of the new work since",
			name, since(switched, lastEnd), freshAfter)
		return false
	}
}

// since says when t came relative to the switch: "1.2ms after the switch".
func since(switched, t time.Time) string {
	d := t.Sub(switched).Round(time.Microsecond)
	if d < 0 {
		return (-d).String() + " before the switch"
	}
	return d.String() + " after the switch"
}
