package stratum

import (
	"math"
	"testing"
	"time"
)

// Vardiff brings a miner of any speed to about one share per interval: a
// simulated miner sends shares at the pace its hashrate gives at the
// current difficulty, and the quiet timer ticks every interval, as the
// server's does. Within a bounded number of retargets the difficulty is
// within the dead band of the ideal, and each step is at most maxStep.
func TestVardiffConverges(t *testing.T) {
	const aim = 10 * time.Second
	for _, c := range []struct {
		name     string
		hashrate float64 // hashes per second
		start    float64
	}{
		{"cpu from too hard", 5e6, 1},
		{"asic from too easy", 1e14, 1},
		{"slow from too hard", 1e3, 1},
		{"right already", 4.29e8, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			ideal := clamp(c.hashrate*aim.Seconds()/hashesPerDifficulty, 1e-9, 1e12)
			now := time.Unix(1_700_000_000, 0)
			v := newVardiff(aim, c.start, 1e-9, 1e12, now)
			nextTick := now.Add(aim)
			var owed float64 // hashes done toward the next share
			steps := 0
			for range 100_000 {
				perShare := v.diff * hashesPerDifficulty / c.hashrate // seconds
				shareAt := now.Add(time.Duration((perShare - owed/c.hashrate) * float64(time.Second)))
				before := v.diff
				var changed bool
				if shareAt.Before(nextTick) {
					owed, now = 0, shareAt
					_, changed = v.retarget(now, true)
				} else {
					owed += c.hashrate * nextTick.Sub(now).Seconds()
					now, nextTick = nextTick, nextTick.Add(aim)
					_, changed = v.retarget(now, false)
				}
				if changed {
					steps++
					if r := v.diff / before; r > maxStep*1.0001 || r < 1/(maxStep*1.0001) {
						t.Fatalf("step from %g to %g, over ×%d", before, v.diff, maxStep)
					}
					owed = 0 // the miner starts a new job
				}
				if now.Sub(time.Unix(1_700_000_000, 0)) > 2*time.Hour {
					break
				}
			}
			if r := v.diff / ideal; math.Abs(math.Log(r)) > math.Log(deadBand*1.05) {
				t.Errorf("after 2 h: difficulty %g, ideal %g (×%.2f), %d retargets", v.diff, ideal, r, steps)
			}
			t.Logf("difficulty %g, ideal %g, %d retargets", v.diff, ideal, steps)
		})
	}
}

// A difficulty fixed by the password never moves, and set clamps to the bounds.
func TestVardiffFixedAndClamped(t *testing.T) {
	now := time.Now()
	v := newVardiff(time.Second, 1, 0.5, 8, now)
	v.set(100, true, now)
	if v.diff != 8 {
		t.Errorf("set(100) within [0.5, 8]: %g", v.diff)
	}
	for i := range 100 {
		if _, changed := v.retarget(now.Add(time.Duration(i)*time.Millisecond), true); changed {
			t.Fatal("a fixed difficulty retargeted")
		}
	}
}
