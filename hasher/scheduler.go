package hasher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// NonceSpace is the number of nonces in a header.
const NonceSpace = 1 << 32

// Bounds on a lane's range size, as powers of two (a GPU's --intensity);
// within them each lane sizes its ranges so one Search takes the device's
// batch time: short enough that new work reaches it quickly, long enough that
// per-range overhead vanishes. Search takes its count as a uint32, so no
// range may hold all 2^32 nonces.
const (
	MinIntensity = 8
	MaxIntensity = 31
	minBatch     = 1 << MinIntensity
	maxBatch     = 1 << MaxIntensity
)

// Hit is a nonce whose hash met the target, already re-checked on the CPU.
type Hit struct {
	Nonce  uint32
	Hash   [32]byte
	Device string
}

// Job is one Work being searched over a nonce range.
type Job struct {
	Work  Work
	start uint64
	count uint64
	onHit func(Hit)

	next atomic.Uint64 // offset of the next nonce to hand out
	done atomic.Uint64 // nonces searched

	exhausted, finished chan struct{}
	exhaustOnce         sync.Once

	errMu sync.Mutex
	err   error
}

// Exhausted is closed once every nonce of the job has been handed to a lane:
// time to submit new work (a rolled extranonce) so no lane idles.
func (j *Job) Exhausted() <-chan struct{} { return j.exhausted }

// Done is closed once every nonce of the job has been searched.
func (j *Job) Done() <-chan struct{} { return j.finished }

// Err returns the first device error met while searching the job.
func (j *Job) Err() error {
	j.errMu.Lock()
	defer j.errMu.Unlock()
	return j.err
}

// take hands out up to n nonces.
func (j *Job) take(n uint64) (start uint32, count uint64, ok bool) {
	off := j.next.Add(n) - n
	if off+n >= j.count {
		j.exhaustOnce.Do(func() { close(j.exhausted) })
	}
	if off >= j.count {
		return 0, 0, false
	}
	return uint32(j.start + off), min(n, j.count-off), true
}

func (j *Job) complete(n uint64, err error) {
	if err != nil {
		j.errMu.Lock()
		j.err = errors.Join(j.err, err)
		j.errMu.Unlock()
	}
	if j.done.Add(n) == j.count {
		close(j.finished)
	}
}

// DeviceStats are one device's counters.
type DeviceStats struct {
	Info    DeviceInfo
	Hashes  uint64 // nonces hashed
	Errors  uint64 // failed or hung searches and hits that failed the CPU re-check
	Stopped bool   // the device failed and no longer hashes
	Paused  bool   // too hot: waits until it cools (SetTempLimit)
	Health  *Health
}

type deviceState struct {
	dev     Device
	hashes  atomic.Uint64
	errors  atomic.Uint64
	stopped atomic.Bool
	paused  atomic.Bool
	// active is how many of the device's lanes hash; the others wait. Only
	// CPU devices change it (SetThreads): a user takes cores back from the
	// miner without restarting it.
	active atomic.Int64
	// lanes holds each lane's Search in progress, for the watchdog.
	lanes []atomic.Pointer[running]
	// reading is the device's last Health reading (health.go).
	reading atomic.Pointer[reading]
}

// Scheduler runs the current Job on every lane of every device.
type Scheduler struct {
	devices []*deviceState
	log     *slog.Logger

	tempLimit atomic.Pointer[float64]
	// allStopped is closed once every device has failed: a job then never
	// completes.
	allStopped chan struct{}
	nstopped   atomic.Int64

	mu   sync.Mutex
	job  *Job
	wake chan struct{} // closed and replaced whenever the job changes
}

// NewScheduler returns a scheduler over devices; Run starts them.
func NewScheduler(devices []Device, log *slog.Logger) *Scheduler {
	s := &Scheduler{log: log, wake: make(chan struct{}), allStopped: make(chan struct{})}
	for _, d := range devices {
		ds := &deviceState{dev: d, lanes: make([]atomic.Pointer[running], d.Lanes())}
		ds.active.Store(int64(d.Lanes()))
		s.devices = append(s.devices, ds)
	}
	return s
}

// ErrNoCPU is returned by SetThreads on a scheduler without a CPU device.
var ErrNoCPU = errors.New("no CPU hashing device")

// SetThreads sets how many threads every CPU device hashes with, from 1 to
// the lanes it was opened with; lanes above n finish their range and wait.
func (s *Scheduler) SetThreads(n int) error {
	cpus := s.cpuDevices()
	if len(cpus) == 0 {
		return ErrNoCPU
	}
	for _, d := range cpus {
		if n < 1 || n > d.dev.Lanes() {
			return fmt.Errorf("threads %d: device %s hashes with 1 to %d", n, d.dev.Info().ID(), d.dev.Lanes())
		}
	}
	for _, d := range cpus {
		d.active.Store(int64(n))
	}
	// Wake waiting lanes to read their new state.
	j, _ := s.current()
	s.setJob(j)
	return nil
}

// Threads returns the threads the CPU devices hash with, and the most they
// may: 0, 0 without a CPU device.
func (s *Scheduler) Threads() (active, most int) {
	for _, d := range s.cpuDevices() {
		active, most = max(active, int(d.active.Load())), max(most, d.dev.Lanes())
	}
	return active, most
}

func (s *Scheduler) cpuDevices() []*deviceState {
	var cpus []*deviceState
	for _, d := range s.devices {
		if d.dev.Info().Backend == CPUBackend {
			cpus = append(cpus, d)
		}
	}
	return cpus
}

// Submit makes w over nonces [start, start+count) the current job; lanes leave
// the previous job when their current range ends. onHit is called from lane
// goroutines for every hit.
func (s *Scheduler) Submit(w Work, start, count uint64, onHit func(Hit)) (*Job, error) {
	if count == 0 || start >= NonceSpace || count > NonceSpace-start {
		return nil, fmt.Errorf("nonce range [%d, %d) is empty or beyond 2^32", start, start+count)
	}
	j := &Job{Work: w, start: start, count: count, onHit: onHit,
		exhausted: make(chan struct{}), finished: make(chan struct{})}
	s.setJob(j)
	return j, nil
}

// Pause stops hashing until the next Submit.
func (s *Scheduler) Pause() { s.setJob(nil) }

func (s *Scheduler) setJob(j *Job) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.job = j
	close(s.wake)
	s.wake = make(chan struct{})
}

func (s *Scheduler) current() (*Job, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.job, s.wake
}

// Hashes returns every device's hash count: what the miner samples each
// second, without Stats' health readings (NVML calls).
func (s *Scheduler) Hashes() []uint64 {
	out := make([]uint64, len(s.devices))
	for i, d := range s.devices {
		out[i] = d.hashes.Load()
	}
	return out
}

// Stats returns every device's counters and health.
func (s *Scheduler) Stats() []DeviceStats {
	out := make([]DeviceStats, len(s.devices))
	for i, d := range s.devices {
		out[i] = DeviceStats{Info: d.dev.Info(), Hashes: d.hashes.Load(), Errors: d.errors.Load(),
			Stopped: d.stopped.Load(), Paused: d.paused.Load(), Health: d.health(time.Now())}
	}
	return out
}

// Run hashes until ctx ends. It returns once every lane has, but for lanes
// whose search hung (the watchdog gave up on them): those are left to
// return whenever their driver does.
func (s *Scheduler) Run(ctx context.Context) {
	var wg sync.WaitGroup
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go s.watchdog(watchCtx)
	for _, d := range s.devices {
		for i := range d.dev.Lanes() {
			wg.Add(1)
			leave := sync.OnceFunc(wg.Done)
			go func() {
				defer leave()
				s.lane(ctx, d, int64(i), leave)
			}()
		}
	}
	wg.Wait()
}

// lane hashes ranges on one of d's lanes until ctx ends or d stops; leave
// lets Run stop waiting for it, which the watchdog calls for a hung search.
func (s *Scheduler) lane(ctx context.Context, d *deviceState, index int64, leave func()) {
	batch, target := d.dev.Batch()
	var hits []uint32
	var took time.Duration
	for ctx.Err() == nil && !d.stopped.Load() {
		if s.tooHot(ctx, d) {
			continue
		}
		j, wake := s.current()
		var start uint32
		var n uint64
		ok := false
		if j != nil && index < d.active.Load() {
			start, n, ok = j.take(batch)
		}
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-wake:
				continue
			}
		}
		r := &running{job: j, n: n, began: time.Now(), limit: watchdogLimit(target, took), leave: leave}
		d.lanes[index].Store(r)
		var err error
		hits, err = d.dev.Search(&j.Work, start, uint32(n), hits[:0])
		took = time.Since(r.began)
		d.lanes[index].Store(nil)
		if !r.settled.CompareAndSwap(false, true) {
			return // the watchdog stopped the device while this search hung
		}
		// A GPU search that found more hits than it lists (an easy target)
		// ended early: its hits are good and the device is well; the job
		// records that its hits are not all listed.
		searched, full := n, (*TooManyHitsError)(nil)
		if errors.As(err, &full) {
			searched = full.Searched
		}
		if err == nil || full != nil {
			d.hashes.Add(searched)
			if rerr := s.report(j, d, hits); rerr != nil {
				err, full = rerr, nil
			}
		}
		if err != nil && full == nil {
			s.stop(d, err)
		}
		j.complete(n, err)
		if target > 0 {
			batch = tune(batch, searched, took, target)
		}
	}
}

// report re-checks every hit on the CPU before anyone uses it.
func (s *Scheduler) report(j *Job, d *deviceState, hits []uint32) error {
	id := d.dev.Info().ID()
	for _, nonce := range hits {
		hash := HashHeader(j.Work.WithNonce(nonce))
		if !Meets(&hash, &j.Work.Target) {
			return fmt.Errorf("device %s reported nonce %d, whose hash does not meet the target", id, nonce)
		}
		if j.onHit != nil {
			j.onHit(Hit{Nonce: nonce, Hash: hash, Device: id})
		}
	}
	return nil
}

// stop takes a failing device out of service; the other devices go on.
func (s *Scheduler) stop(d *deviceState, err error) {
	d.errors.Add(1)
	if !d.stopped.Swap(true) {
		s.log.Error("device stopped", "device", d.dev.Info().ID(), "err", err)
		if s.nstopped.Add(1) == int64(len(s.devices)) {
			close(s.allStopped)
		}
	}
}

// tune scales a lane's range size toward the target time, at most doubling
// or halving per step so one slow range (a descheduled thread) cannot swing it.
func tune(batch, n uint64, took, target time.Duration) uint64 {
	if n < batch || took <= 0 {
		return batch // a short last range says nothing about speed
	}
	ideal := uint64(float64(n) * float64(target) / float64(took))
	return max(minBatch, min(maxBatch, max(batch/2, min(batch*2, ideal))))
}

// SearchRange runs the devices until every nonce of [start, start+count) of
// w has been searched, calling onHit for each hit, or until ctx ends. It is
// for one-off searches; a miner submits jobs to a running scheduler instead.
func (s *Scheduler) SearchRange(ctx context.Context, w Work, start, count uint64, onHit func(Hit)) error {
	job, err := s.Submit(w, start, count, onHit)
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { s.Run(runCtx); close(done) }()
	select {
	case <-job.Done():
	case <-ctx.Done():
	case <-s.allStopped: // the rest of the range has no device to search it
	}
	cancel()
	<-done
	if err := job.Err(); err != nil {
		return err
	}
	return ctx.Err()
}
