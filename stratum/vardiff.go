package stratum

import "time"

// Vardiff steers each connection's share difficulty toward one share per
// ShareInterval: frequent enough to show a miner alive and to measure its
// hashrate, rare enough that a fast miner does not flood the server.
const (
	// retargetShares is how many shares a retarget waits for: a few shares
	// estimate the rate well enough, and a miner far too fast for its
	// difficulty sends them within milliseconds, so it converges at once.
	retargetShares = 16
	// retargetAfter, in share intervals, retargets a miner too slow for
	// its difficulty, which may never send retargetShares: one that sent
	// under half the shares aimed for in that time.
	retargetAfter = 3
	// maxStep bounds one retarget's change, so one unlucky or lucky run of
	// shares cannot throw the difficulty far off.
	maxStep = 4
	// deadBand leaves a difficulty within this factor of the estimate
	// alone: share arrivals are random, and a set_difficulty for every
	// wobble would only restart miners' work.
	deadBand = 1.3
)

// vardiff is one connection's share difficulty and the shares since it was
// last considered.
type vardiff struct {
	aim      time.Duration
	min, max float64
	diff     float64
	fixed    bool // the miner asked for d=N in its password
	since    time.Time
	shares   int
}

func newVardiff(aim time.Duration, start, lo, hi float64, now time.Time) vardiff {
	return vardiff{aim: aim, min: lo, max: hi, diff: clamp(start, lo, hi), since: now}
}

func clamp(d, lo, hi float64) float64 { return min(max(d, lo), hi) }

// set makes d, clamped, the difficulty from now on; fixed stops retargets.
func (v *vardiff) set(d float64, fixed bool, now time.Time) {
	v.diff, v.fixed, v.since, v.shares = clamp(d, v.min, v.max), fixed, now, 0
}

// retarget counts an accepted share when share is true, and returns the new
// difficulty and true when it is time to change it: after retargetShares
// shares, or retargetAfter share intervals with too few, to the difficulty
// that would have given one share per interval, at most maxStep times away.
func (v *vardiff) retarget(now time.Time, share bool) (float64, bool) {
	if v.fixed {
		return v.diff, false
	}
	if share {
		v.shares++
	}
	elapsed := max(now.Sub(v.since), time.Millisecond)
	ratio := float64(v.shares) * float64(v.aim) / float64(elapsed)
	if v.shares < retargetShares && (elapsed < retargetAfter*v.aim || ratio >= 0.5) {
		return v.diff, false
	}
	ratio = clamp(ratio, 1.0/maxStep, maxStep)
	v.since, v.shares = now, 0
	next := clamp(v.diff*ratio, v.min, v.max)
	if next < v.diff*deadBand && next > v.diff/deadBand {
		return v.diff, false
	}
	v.diff = next
	return next, true
}
