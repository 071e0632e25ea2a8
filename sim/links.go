package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// LatencyModel gives links their one-way latency and bandwidth. Nodes are
// placed in regions (a model without regions puts every node in region 0);
// a link's figures depend on its two ends' regions. Draws come from the
// rng the engine passes, so a model holds no randomness of its own.
type LatencyModel interface {
	Name() string
	// Place assigns each of n nodes a region.
	Place(n int, rng *rand.Rand) []int
	// Latency is one draw of the one-way latency from region a to region b.
	Latency(a, b int, rng *rand.Rand) time.Duration
	// Bandwidth is the rate of a link from region a to region b in bits
	// per second; 0 or less is unlimited (no transmission delay).
	Bandwidth(a, b int) float64
}

// Uniform is one latency for every link: Delay plus a jitter drawn
// uniformly from [0, Jitter), and one bandwidth.
type Uniform struct {
	Delay         time.Duration
	Jitter        time.Duration
	BitsPerSecond float64 // 0: unlimited
}

// Name describes the model for the report.
func (u Uniform) Name() string {
	return fmt.Sprintf("uniform(%v+[0,%v), %g bit/s)", u.Delay, u.Jitter, u.BitsPerSecond)
}

// Place puts every node in region 0.
func (u Uniform) Place(n int, _ *rand.Rand) []int { return make([]int, n) }

// Latency is Delay plus a uniform draw from [0, Jitter).
func (u Uniform) Latency(_, _ int, rng *rand.Rand) time.Duration {
	if u.Jitter <= 0 {
		return u.Delay
	}
	return u.Delay + time.Duration(rng.Int64N(int64(u.Jitter)))
}

// Bandwidth is BitsPerSecond for every link.
func (u Uniform) Bandwidth(_, _ int) float64 { return u.BitsPerSecond }

// Regions is a region matrix in the manner of SimBlock's: nodes are placed
// in regions by Share; the latency from region a to b has mean Mean[a][b],
// drawn from a Pareto distribution with that mean as SimBlock draws it
// (scale mean−5 ms, shape mean/5 ms, heavy-tailed above the mean's floor);
// a link's bandwidth is the lesser of its sender region's Upload and its
// receiver region's Download.
type Regions struct {
	Names    []string
	Share    []float64         // fraction of the nodes in each region
	Mean     [][]time.Duration // mean one-way latency, Mean[from][to]
	Upload   []float64         // bits per second
	Download []float64         // bits per second
}

// SimBlockRegions is SimBlock's default network: six regions with its
// figures for Bitcoin in 2019 (latency matrix, per-region upload and
// download bandwidth, node distribution), from SimBlock's
// simulator/src/main/java/simblock/settings/NetworkConfiguration.java
// (github.com/dsg-titech/simblock: LATENCY_2019, UPLOAD_BANDWIDTH_2019 and
// DOWNLOAD_BANDWIDTH_2019 — the figures of a region to itself —,
// REGION_DISTRIBUTION_BITCOIN_2019).
func SimBlockRegions() *Regions {
	ms := func(rows ...[6]int) [][]time.Duration {
		m := make([][]time.Duration, len(rows))
		for i, r := range rows {
			m[i] = make([]time.Duration, len(r))
			for j, v := range r {
				m[i][j] = time.Duration(v) * time.Millisecond
			}
		}
		return m
	}
	return &Regions{
		Names: []string{"north-america", "europe", "south-america", "asia-pacific", "japan", "australia"},
		Share: []float64{0.3316, 0.4998, 0.0090, 0.1177, 0.0224, 0.0195},
		Mean: ms(
			[6]int{32, 124, 184, 198, 151, 189},
			[6]int{124, 11, 227, 237, 252, 294},
			[6]int{184, 227, 88, 325, 301, 322},
			[6]int{198, 237, 325, 85, 58, 198},
			[6]int{151, 252, 301, 58, 12, 126},
			[6]int{189, 294, 322, 198, 126, 16},
		),
		Upload:   []float64{19.2e6, 20.7e6, 5.8e6, 15.7e6, 10.2e6, 11.3e6},
		Download: []float64{52e6, 40e6, 18e6, 22.8e6, 22.8e6, 29.9e6},
	}
}

// Name describes the model for the report.
func (r *Regions) Name() string { return fmt.Sprintf("regions(%d)", len(r.Names)) }

// Place gives each region its share of the n nodes (largest remainders
// first, so small networks get the proportions as near as they can) and
// shuffles who is where.
func (r *Regions) Place(n int, rng *rand.Rand) []int {
	var total float64
	for _, s := range r.Share {
		total += s
	}
	counts := make([]int, len(r.Share))
	rem := make([]float64, len(r.Share))
	left := n
	for i, s := range r.Share {
		exact := float64(n) * s / total
		counts[i] = int(exact)
		rem[i] = exact - float64(counts[i])
		left -= counts[i]
	}
	order := make([]int, len(r.Share))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case rem[a] > rem[b]:
			return -1
		case rem[a] < rem[b]:
			return 1
		}
		return 0
	})
	for i := 0; left > 0; i, left = i+1, left-1 {
		counts[order[i%len(order)]]++
	}
	place := make([]int, 0, n)
	for region, c := range counts {
		for range c {
			place = append(place, region)
		}
	}
	rng.Shuffle(n, func(i, j int) { place[i], place[j] = place[j], place[i] })
	return place
}

// Latency draws SimBlock's Pareto latency around Mean[a][b] (a mean of 5 ms
// or less is taken as it is).
func (r *Regions) Latency(a, b int, rng *rand.Rand) time.Duration {
	mean := float64(r.Mean[a][b]) / float64(time.Millisecond)
	if mean <= 5 {
		return r.Mean[a][b]
	}
	shape, scale := 0.2*mean, mean-5
	u := 1 - rng.Float64() // (0, 1]
	return time.Duration(scale / math.Pow(u, 1/shape) * float64(time.Millisecond))
}

// Bandwidth is the lesser of a's upload and b's download.
func (r *Regions) Bandwidth(a, b int) float64 { return min(r.Upload[a], r.Download[b]) }

// FaultKind names a fault of the schedule.
type FaultKind uint8

const (
	// Partition drops every message between nodes of different Groups
	// (sent or arriving while it lasts); nodes listed in no group form one
	// more group. It heals at Until.
	Partition FaultKind = iota + 1
	// Crash takes Nodes down at At: the engine delivers nothing to them,
	// fires none of their timers set before, and finds no block with their
	// hash power. At Until it calls Start on them again.
	Crash
	// DelaySpike adds Delay to the latency of messages sent on links that
	// touch Nodes (all links when Nodes is empty).
	DelaySpike
	// LossBurst drops messages sent on links that touch Nodes (all links
	// when Nodes is empty) with the further probability Loss.
	LossBurst
	// BadBlocks makes Nodes misbehave from At to Until: the engine tells
	// each one that is a Misbehaver, which decides what it does wrong (a
	// ChainNode sends its peers invalid blocks instead of mining valid
	// ones). The links are untouched: what the others make of it is their
	// own code's business.
	BadBlocks
)

func (k FaultKind) String() string {
	switch k {
	case Partition:
		return "partition"
	case Crash:
		return "crash"
	case DelaySpike:
		return "spike"
	case LossBurst:
		return "loss"
	case BadBlocks:
		return "bad-blocks"
	}
	return fmt.Sprintf("fault(%d)", uint8(k))
}

// Fault is one entry of the fault schedule: Kind from At to Until (virtual
// time since the start; Until 0 never ends).
type Fault struct {
	Kind   FaultKind
	At     time.Duration
	Until  time.Duration
	Groups [][]int       // Partition
	Nodes  []int         // Crash and BadBlocks; DelaySpike and LossBurst (none: every link)
	Delay  time.Duration // DelaySpike
	Loss   float64       // LossBurst
}

// link is the state of one directed link.
type link struct {
	busyUntil   time.Duration // the last message's transmission ends
	lastArrival time.Duration // the last message arrives: none may arrive before it
}

// network is the links: topology, latency, loss and the active faults.
type network struct {
	model  LatencyModel
	region []int
	peers  [][]int
	edges  int
	links  map[uint64]*link
	rng    *rand.Rand
	loss   float64
	faults []Fault
	side   [][]int32 // per fault: Partition, the group of each node; others, 1 for nodes it touches
	active []int     // faults in force, in the order they began
}

func (nw *network) link(from, to int) *link {
	k := uint64(from)<<32 | uint64(to)
	l := nw.links[k]
	if l == nil {
		l = &link{}
		nw.links[k] = l
	}
	return l
}

func (nw *network) touches(f, from, to int) bool {
	s := nw.side[f]
	return s == nil || s[from] == 1 || s[to] == 1
}

// separated says whether a partition in force cuts from off from to.
func (nw *network) separated(from, to int) bool {
	for _, f := range nw.active {
		if nw.faults[f].Kind == Partition && nw.side[f][from] != nw.side[f][to] {
			return true
		}
	}
	return false
}

// dropAtSend says why a message sent now from → to is lost, or "".
func (nw *network) dropAtSend(from, to int) string {
	if nw.separated(from, to) {
		return "partition"
	}
	p := nw.loss
	for _, f := range nw.active {
		if nw.faults[f].Kind == LossBurst && nw.touches(f, from, to) {
			p = 1 - (1-p)*(1-nw.faults[f].Loss)
		}
	}
	if p > 0 && nw.rng.Float64() < p {
		return "loss"
	}
	return ""
}

// arrival is when a message of size bytes sent now from → to arrives:
// after the link has sent what it was sending, the transmission time,
// the drawn latency and any delay spike, and never before the link's
// previous message.
func (nw *network) arrival(from, to, size int, now time.Duration) time.Duration {
	l := nw.link(from, to)
	a, b := nw.region[from], nw.region[to]
	start := max(now, l.busyUntil)
	if bw := nw.model.Bandwidth(a, b); bw > 0 && size > 0 {
		start += time.Duration(float64(size) * 8 / bw * float64(time.Second))
	}
	l.busyUntil = start
	at := start + nw.model.Latency(a, b, nw.rng)
	for _, f := range nw.active {
		if nw.faults[f].Kind == DelaySpike && nw.touches(f, from, to) {
			at += nw.faults[f].Delay
		}
	}
	at = max(at, l.lastArrival)
	l.lastArrival = at
	return at
}

// topology makes each node dial k random peers it is not linked to yet
// (edges undirected, so a node ends with k plus those that dialled it), adds the given edges, and then joins the
// components into one connected graph, each to the one before it by an
// edge between random members. Peer lists are sorted.
func topology(n, k int, given [][2]int, rng *rand.Rand) ([][]int, int, error) {
	peers := make([][]int, n)
	has := make(map[uint64]bool)
	edges := 0
	add := func(a, b int) bool {
		k := uint64(min(a, b))<<32 | uint64(max(a, b))
		if a == b || has[k] {
			return false
		}
		has[k] = true
		peers[a] = append(peers[a], b)
		peers[b] = append(peers[b], a)
		edges++
		return true
	}
	for _, e := range given {
		if e[0] < 0 || e[0] >= n || e[1] < 0 || e[1] >= n || e[0] == e[1] {
			return nil, 0, fmt.Errorf("sim: edge %v: not two distinct nodes of %d", e, n)
		}
		add(e[0], e[1])
	}
	if given == nil {
		for i := range n {
			// Dial k peers not linked yet (fewer when most nodes already
			// are: the tries are bounded).
			want := min(k, n-1)
			for dialled, tries := 0, 0; dialled < want && tries < 64*want; tries++ {
				if add(i, rng.IntN(n)) {
					dialled++
				}
			}
		}
	}
	// Join the components (union-find, components in order of their
	// smallest node).
	parent := make([]int, n)
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(x int) int {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	for i := range n {
		for _, j := range peers[i] {
			if a, b := find(i), find(j); a != b {
				parent[max(a, b)] = min(a, b)
			}
		}
	}
	var comps [][]int
	index := make(map[int]int)
	for i := range n {
		r := find(i)
		c, ok := index[r]
		if !ok {
			c = len(comps)
			index[r] = c
			comps = append(comps, nil)
		}
		comps[c] = append(comps[c], i)
	}
	for c := 1; c < len(comps); c++ {
		prev, cur := comps[c-1], comps[c]
		add(prev[rng.IntN(len(prev))], cur[rng.IntN(len(cur))])
	}
	for i := range peers {
		slices.Sort(peers[i])
	}
	return peers, edges, nil
}

// ParseLatency reads a latency model as miner sim's --latency writes it:
// regions (SimBlockRegions) or uniform:DELAY[:JITTER].
func ParseLatency(s string) (LatencyModel, error) {
	if s == "regions" {
		return SimBlockRegions(), nil
	}
	rest, ok := strings.CutPrefix(s, "uniform:")
	if !ok {
		return nil, fmt.Errorf("want regions or uniform:DELAY[:JITTER]")
	}
	delay, jitter, _ := strings.Cut(rest, ":")
	u := &Uniform{}
	var err error
	if u.Delay, err = time.ParseDuration(delay); err != nil || u.Delay < 0 {
		return nil, fmt.Errorf("delay %q: want a duration such as 100ms", delay)
	}
	if jitter != "" {
		if u.Jitter, err = time.ParseDuration(jitter); err != nil || u.Jitter < 0 {
			return nil, fmt.Errorf("jitter %q: want a duration such as 20ms", jitter)
		}
	}
	return u, nil
}
