package sim

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Report is what a run measured. Everything but the fields marked
// "wall clock" follows from the Config alone, so two runs of one seed give
// the same report there.
type Report struct {
	Digest       string  `json:"digest"` // SHA-256 of the event log, hex
	Seed         uint64  `json:"seed"`
	Nodes        int     `json:"nodes"`
	Links        int     `json:"links"` // undirected
	LatencyModel string  `json:"latency_model"`
	IntervalS    float64 `json:"interval_s"`
	VirtualS     float64 `json:"virtual_s"` // virtual time the run covered

	Blocks          int     `json:"blocks"` // found (Mine calls)
	MainChainBlocks int     `json:"main_chain_blocks"`
	StaleBlocks     int     `json:"stale_blocks"`
	StaleRate       float64 `json:"stale_rate"` // stale / found
	MeanIntervalS   float64 `json:"mean_block_interval_s"`
	FinalTip        string  `json:"final_tip"`
	NodesOnFinalTip int     `json:"nodes_on_final_tip"` // the misbehaving not counted

	// PropagationMS: over blocks, the time for a block to reach 90 % of
	// the nodes; PropagationToMS the same to 50 %, 90 % and 100 %.
	PropagationMS   Percentiles   `json:"propagation_ms"`
	PropagationToMS PropagationTo `json:"propagation_to_ms"`
	// MeanPropagationMS (τ): the mean over blocks and receiving nodes of
	// the delay from a block's discovery to the node first seeing it;
	// TheoryStaleRate is 1 − e^(−τ/T) for the configured interval T.
	MeanPropagationMS float64 `json:"mean_propagation_ms"`
	TheoryStaleRate   float64 `json:"theory_stale_rate"`

	ReorgDepths     []DepthCount  `json:"reorg_depths"`
	TxConfirmationS Percentiles   `json:"tx_confirmation_s"`
	ConvergenceMS   []Convergence `json:"convergence_after_heal"`
	UnknownBlocks   int           `json:"unknown_blocks_seen"`

	// Misbehaving are the nodes a BadBlocks fault named; InvalidBlocks,
	// the invalid blocks they sent (InvalidSent).
	Misbehaving   []int `json:"misbehaving_nodes"`
	InvalidBlocks int   `json:"invalid_blocks_sent"`

	Messages   map[string]*MessageStats `json:"messages"` // by Kind
	Invariants map[string]string        `json:"invariants"`

	Events          int64   `json:"events"`
	EventsPerSecond float64 `json:"events_per_second"` // wall clock
	WallS           float64 `json:"wall_s"`            // wall clock
	PeakHeapBytes   uint64  `json:"peak_heap_bytes"`   // wall clock: runtime.MemStats.HeapSys, sampled
	PeakSysBytes    uint64  `json:"peak_sys_bytes"`    // wall clock: runtime.MemStats.Sys, sampled

	cdf  []float64 // ms at which each node had the median block (by time to 90 %)
	tree []treeBlock
}

// Percentiles of a sample (nearest rank); Count is its size.
type Percentiles struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	Mean  float64 `json:"mean"`
}

// PropagationTo is the time blocks took to reach a fraction of the
// nodes, in ms: over the blocks that reached it.
type PropagationTo struct {
	Half Percentiles `json:"50%"`
	Most Percentiles `json:"90%"`
	All  Percentiles `json:"100%"`
}

// DepthCount is one bar of the reorg-depth histogram.
type DepthCount struct {
	Depth int `json:"depth"`
	Count int `json:"count"`
}

// Convergence is a partition's heal: when (virtual seconds since the
// start) and how long until every node up shared one tip (-1: never), the
// misbehaving left out.
type Convergence struct {
	HealS float64 `json:"heal_s"`
	MS    float64 `json:"ms"`
}

// MessageStats counts the messages of one Kind.
type MessageStats struct {
	Sent      int            `json:"sent"`
	Delivered int            `json:"delivered"`
	Bytes     int64          `json:"bytes"`   // sent
	Dropped   map[string]int `json:"dropped"` // by reason: loss, partition, down
}

type treeBlock struct {
	height, lane int
	parentLane   int // -1: no parent in the run
	main         bool
}

// round keeps reports readable: ms to the µs.
func round(x float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(x*p) / p
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func percentiles(xs []float64) Percentiles {
	if len(xs) == 0 {
		return Percentiles{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	rank := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return round(s[max(i, 0)], 3)
	}
	var sum float64
	for _, x := range s {
		sum += x
	}
	return Percentiles{Count: len(s), P50: rank(0.5), P90: rank(0.9), P99: rank(0.99), Mean: round(sum/float64(len(s)), 3)}
}

func (s *Sim) report() *Report {
	c := s.obs
	cfg := s.cfg
	r := &Report{
		Digest:        digestHex(s.digest),
		Seed:          cfg.Seed,
		Nodes:         cfg.Nodes,
		Links:         s.net.edges,
		LatencyModel:  cfg.Latency.Name(),
		IntervalS:     cfg.Interval.Seconds(),
		VirtualS:      round(s.now.Seconds(), 6),
		Blocks:        s.mined,
		Messages:      s.msgs,
		Invariants:    map[string]string{},
		Events:        s.events,
		WallS:         round(s.wall.Seconds(), 3),
		PeakHeapBytes: s.peakHeap,
		PeakSysBytes:  s.peakSys,
		UnknownBlocks: c.unknown,
		Misbehaving:   []int{},
		InvalidBlocks: c.invalid,
		ReorgDepths:   []DepthCount{},
		ConvergenceMS: []Convergence{},
	}
	for _, f := range cfg.Faults {
		if f.Kind == BadBlocks {
			r.Misbehaving = append(r.Misbehaving, f.Nodes...)
		}
	}
	slices.Sort(r.Misbehaving)
	r.Misbehaving = slices.Compact(r.Misbehaving)
	if s.wall > 0 {
		r.EventsPerSecond = math.Round(float64(s.events) / s.wall.Seconds())
	}
	if len(c.mineAt) > 1 {
		r.MeanIntervalS = round((c.mineAt[len(c.mineAt)-1]-c.mineAt[0]).Seconds()/float64(len(c.mineAt)-1), 6)
	}

	// The final main chain: the tip most nodes up report (the
	// misbehaving left out: they may be cut off), ties to the
	// higher block, then the one found first; without tip reports, the
	// highest block found first.
	var final *blockRec
	votes := 0
	for _, b := range c.blocks {
		v := c.tipCount[b.id]
		if final == nil || v > votes || (v == votes && b.height > final.height) {
			final, votes = b, v
		}
	}
	main := make(map[string]bool)
	if final != nil {
		r.FinalTip, r.NodesOnFinalTip = final.id, votes
		for b := final; b != nil && !main[b.id]; b = c.byID[b.parent] {
			main[b.id] = true
		}
	}
	r.MainChainBlocks = len(main)
	r.StaleBlocks = len(c.blocks) - len(main)
	if len(c.blocks) > 0 {
		r.StaleRate = round(float64(r.StaleBlocks)/float64(len(c.blocks)), 6)
	}

	// Propagation: for each block, the time until ⌈f·N⌉ nodes had it (its
	// finder at 0), over the blocks that got there.
	fracs := []struct {
		name string
		f    float64
	}{{"50", 0.5}, {"90", 0.9}, {"100", 1}}
	to := make([][]float64, len(fracs))
	var sum float64
	var count int
	type med struct {
		t90 float64
		b   *blockRec
	}
	var meds []med
	for _, b := range c.blocks {
		d := slices.Clone(b.delays)
		slices.Sort(d)
		for _, x := range d {
			sum += ms(x)
			count++
		}
		for i, f := range fracs {
			k := int(math.Ceil(f.f * float64(cfg.Nodes)))
			if k <= 1 {
				to[i] = append(to[i], 0)
			} else if k-1 <= len(d) {
				to[i] = append(to[i], ms(d[k-2]))
				if f.name == "90" {
					meds = append(meds, med{ms(d[k-2]), b})
				}
			}
		}
	}
	r.PropagationToMS = PropagationTo{Half: percentiles(to[0]), Most: percentiles(to[1]), All: percentiles(to[2])}
	r.PropagationMS = r.PropagationToMS.Most
	if count > 0 {
		tau := sum / float64(count)
		r.MeanPropagationMS = round(tau, 3)
		r.TheoryStaleRate = round(1-math.Exp(-tau/ms(cfg.Interval)), 6)
	}
	if len(meds) > 0 {
		slices.SortStableFunc(meds, func(a, b med) int {
			switch {
			case a.t90 < b.t90:
				return -1
			case a.t90 > b.t90:
				return 1
			}
			return 0
		})
		b := meds[(len(meds)-1)/2].b
		r.cdf = append(r.cdf, 0)
		for _, x := range b.delays {
			r.cdf = append(r.cdf, ms(x))
		}
		slices.Sort(r.cdf)
	}

	for d, n := range c.reorgs {
		r.ReorgDepths = append(r.ReorgDepths, DepthCount{d, n})
	}
	slices.SortFunc(r.ReorgDepths, func(a, b DepthCount) int { return a.Depth - b.Depth })

	conf := make([]float64, len(c.txConf))
	for i, d := range c.txConf {
		conf[i] = d.Seconds()
	}
	r.TxConfirmationS = percentiles(conf)

	for _, h := range c.heals {
		cv := Convergence{HealS: round(h.at.Seconds(), 6), MS: -1}
		if h.done {
			cv.MS = round(ms(h.converged-h.at), 3)
		}
		r.ConvergenceMS = append(r.ConvergenceMS, cv)
	}

	if cfg.Check != nil {
		for name, err := range cfg.Check(s.nodes, slices.Clone(s.up)) {
			if err == nil {
				r.Invariants[name] = "ok"
			} else {
				r.Invariants[name] = "failed: " + err.Error()
			}
		}
	}

	// The fork tree: the main chain on lane 0, other blocks on the next
	// free lane of their height.
	lane := make(map[string]int)
	used := make(map[int]int)
	for _, b := range c.blocks {
		l := 0
		if !main[b.id] {
			used[b.height]++
			l = used[b.height]
		}
		lane[b.id] = l
		pl := -1
		if p := c.byID[b.parent]; p != nil {
			pl = lane[p.id]
		}
		r.tree = append(r.tree, treeBlock{height: b.height, lane: l, parentLane: pl, main: main[b.id]})
	}
	return r
}

// Summary is a few lines for a terminal.
func (r *Report) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "sim: %d nodes, %d links (%s), seed %d, %.0f s virtual\n", r.Nodes, r.Links, r.LatencyModel, r.Seed, r.VirtualS)
	fmt.Fprintf(&b, "blocks: %d found, %d on the main chain, stale rate %.2f %% (theory 1-e^(-τ/T): %.2f %%)\n",
		r.Blocks, r.MainChainBlocks, 100*r.StaleRate, 100*r.TheoryStaleRate)
	p := r.PropagationMS
	fmt.Fprintf(&b, "propagation to 90 %% of nodes: p50 %.0f ms, p90 %.0f ms, p99 %.0f ms (τ %.0f ms)\n", p.P50, p.P90, p.P99, r.MeanPropagationMS)
	if len(r.ConvergenceMS) > 0 {
		fmt.Fprintf(&b, "convergence after heals (ms):")
		for _, c := range r.ConvergenceMS {
			fmt.Fprintf(&b, " %.0f", c.MS)
		}
		b.WriteString("\n")
	}
	if len(r.Misbehaving) > 0 {
		fmt.Fprintf(&b, "misbehaving: %d nodes, %d invalid blocks sent\n", len(r.Misbehaving), r.InvalidBlocks)
	}
	names := make([]string, 0, len(r.Invariants))
	for n := range r.Invariants {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(&b, "invariant %s: %s\n", n, r.Invariants[n])
	}
	fmt.Fprintf(&b, "%d events, %.0f events/s, peak heap %.1f MiB\n", r.Events, r.EventsPerSecond, float64(r.PeakHeapBytes)/(1<<20))
	fmt.Fprintf(&b, "digest %s\n", r.Digest)
	return b.String()
}

// WriteReport writes dir/report.json and the plots beside it
// (propagation_cdf.svg, fork_tree.svg), making dir if need be.
func (r *Report) WriteReport(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	files := []struct {
		name string
		data []byte
	}{
		{"report.json", append(js, '\n')},
		{"propagation_cdf.svg", r.cdfSVG()},
		{"fork_tree.svg", r.treeSVG()},
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.data, 0o644); err != nil {
			return fmt.Errorf("sim: write report: %w", err)
		}
	}
	return nil
}
