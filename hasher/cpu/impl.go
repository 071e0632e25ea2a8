package cpu

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashforge/hashforge/hasher/cpu/internal/sha256d"
)

// Auto picks the fastest path this CPU has, measured once per process.
const Auto = "auto"

// Generic is the portable path, present everywhere.
const Generic = "generic"

// path is one way of hashing nonces: the portable Go code, or assembly for
// an instruction set extension.
type path struct {
	name  string
	width int // nonces per group
	// missing names the CPU features the path needs and this CPU lacks
	// (none: the path runs here).
	missing func() []string
	// id selects the path's scan in scan.
	id int
}

// scan hashes groups of p.width nonces from nonce on until a group has a
// lane whose last hash word, byte-swapped, is at most j.Target; it returns
// the groups hashed and that group's lanes as a bit mask. A switch, not a
// function value, so that the job stays on the caller's stack.
func (p *path) scan(j *sha256d.Job, nonce uint32, groups int) (done int, mask uint32) {
	if p.id == genericID {
		return scanGeneric(j, nonce, groups)
	}
	return scanAssembly(p.id, j, nonce, groups)
}

const genericID = 0

var generic = &path{name: Generic, width: 1, missing: func() []string { return nil }, id: genericID}

// paths lists every path built for this architecture, assembly first;
// assemblyPaths is set per architecture.
func paths() []*path { return append(assemblyPaths(), generic) }

// Impls returns the names --cpu-impl takes: auto and every path.
func Impls() []string {
	names := []string{Auto}
	for _, p := range paths() {
		names = append(names, p.name)
	}
	return names
}

// Available returns the paths this CPU can run, in the order Impls lists them.
func Available() []string {
	var names []string
	for _, p := range paths() {
		if len(p.missing()) == 0 {
			names = append(names, p.name)
		}
	}
	return names
}

// lookup returns the path named impl, Auto resolved; the error says why
// this CPU cannot run it.
func lookup(impl string) (*path, error) {
	if impl == Auto || impl == "" {
		return fastest(), nil
	}
	for _, p := range paths() {
		if p.name != impl {
			continue
		}
		if m := p.missing(); len(m) > 0 {
			return nil, fmt.Errorf("CPU path %s: this CPU lacks %s (paths it has: %s)", impl, strings.Join(m, ", "), strings.Join(Available(), ", "))
		}
		return p, nil
	}
	return nil, fmt.Errorf("unknown CPU path %q: want one of %s", impl, strings.Join(Impls(), ", "))
}

var fastestOnce = sync.OnceValue(func() *path {
	best, bestRate := generic, 0.0
	for _, p := range paths() {
		if len(p.missing()) > 0 {
			continue
		}
		if r := measure(p, 5*time.Millisecond); r > bestRate {
			best, bestRate = p, r
		}
	}
	return best
})

// fastest is the path Auto picks: each path this CPU has hashes for a few
// milliseconds and the fastest wins. Which one leads depends on more than
// the feature flags (SHA-NI beats AVX2 on some cores and trails it on
// others), so it is measured rather than guessed.
func fastest() *path { return fastestOnce() }

// measure returns p's hashes per second on an impossible target, best of
// three runs of at least d each.
func measure(p *path, d time.Duration) float64 {
	var header [80]byte
	var target [32]byte
	j := sha256d.Prepare(&header, &target)
	j.Target = 0 // nothing survives: every group is hashed
	best := 0.0
	groups := 1024 / p.width
	for range 3 {
		n := 0
		start := time.Now()
		for time.Since(start) < d {
			done, _ := p.scan(&j, uint32(n), groups)
			n += done * p.width
		}
		best = max(best, float64(n)/time.Since(start).Seconds())
	}
	return best
}
