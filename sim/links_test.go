package sim

import (
	"math"
	"slices"
	"testing"
	"time"
)

func connected(peers [][]int) bool {
	seen := make([]bool, len(peers))
	stack := []int{0}
	seen[0] = true
	count := 1
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, y := range peers[x] {
			if !seen[y] {
				seen[y] = true
				count++
				stack = append(stack, y)
			}
		}
	}
	return count == len(peers)
}

func TestTopology(t *testing.T) {
	peers, edges, err := topology(1000, 8, nil, newRand(1, streamSetup))
	if err != nil {
		t.Fatal(err)
	}
	sum := 0
	for i, ps := range peers {
		if len(ps) < 8 || !slices.IsSorted(ps) {
			t.Fatalf("node %d: peers %v", i, ps)
		}
		for j, p := range ps {
			if p == i || (j > 0 && ps[j-1] == p) || !slices.Contains(peers[p], i) {
				t.Fatalf("node %d: peer %d is itself, twice, or not linked back", i, p)
			}
		}
		sum += len(ps)
	}
	if sum != 2*edges || !connected(peers) {
		t.Errorf("%d edges, %d peer entries, connected %v", edges, sum, connected(peers))
	}
	// Given edges in pieces are joined into one graph.
	peers, edges, err = topology(6, 0, [][2]int{{0, 1}, {2, 3}, {4, 5}}, newRand(1, streamSetup))
	if err != nil || edges != 5 || !connected(peers) {
		t.Errorf("three pieces: %d edges, connected %v, %v", edges, connected(peers), err)
	}
	// Fewer nodes than peers wanted: everyone with everyone.
	peers, edges, _ = topology(4, 8, nil, newRand(1, streamSetup))
	if edges != 6 {
		t.Errorf("4 nodes of 8 peers: %d edges, want 6 (%v)", edges, peers)
	}
}

func TestRegionsPlace(t *testing.T) {
	r := SimBlockRegions()
	place := r.Place(10000, newRand(3, streamSetup))
	counts := make([]int, len(r.Names))
	for _, p := range place {
		counts[p]++
	}
	for i, c := range counts {
		if want := r.Share[i] * 10000; math.Abs(float64(c)-want) > 1 {
			t.Errorf("region %s: %d nodes, want %.0f", r.Names[i], c, want)
		}
	}
}

// SimBlock's Pareto draw keeps the matrix's mean latency.
func TestRegionsLatencyMean(t *testing.T) {
	r := SimBlockRegions()
	rng := newRand(5, streamLinks)
	for _, ab := range [][2]int{{0, 1}, {1, 1}, {2, 3}} {
		var sum time.Duration
		const n = 200000
		for range n {
			d := r.Latency(ab[0], ab[1], rng)
			if d < r.Mean[ab[0]][ab[1]]-5*time.Millisecond-time.Microsecond {
				t.Fatalf("latency %v below the Pareto floor of %v", d, r.Mean[ab[0]][ab[1]])
			}
			sum += d
		}
		mean, want := float64(sum/n), float64(r.Mean[ab[0]][ab[1]])
		if math.Abs(mean-want)/want > 0.05 {
			t.Errorf("%v: mean %v, want %v", ab, time.Duration(mean), time.Duration(want))
		}
	}
	if got := r.Bandwidth(2, 0); got != 5.8e6 {
		t.Errorf("south america → north america: %v bit/s, want its upload 5.8e6", got)
	}
}

func TestDelaySpike(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Nodes, cfg.Edges = 3, complete(3)
	cfg.Latency = Uniform{Delay: 10 * time.Millisecond}
	cfg.Duration, cfg.Interval = 3*time.Second, time.Hour
	cfg.Faults = []Fault{{Kind: DelaySpike, At: time.Second, Until: 2 * time.Second, Delay: 250 * time.Millisecond, Nodes: []int{2}}}
	nodes, mk := ticks(3, 100*time.Millisecond)
	run(t, cfg, mk)
	// Ticks go out on multiples of 100 ms: a tick's delay is its arrival
	// past the last such multiple (sent in the spike: + 250 ms).
	for i, n := range nodes {
		for _, d := range n.got {
			sent := d.at - 10*time.Millisecond
			spiked := false
			if d.at%(100*time.Millisecond) != 10*time.Millisecond {
				sent -= 250 * time.Millisecond
				spiked = true
			}
			inSpike := sent >= time.Second && sent < 2*time.Second && (i == 2 || d.from == 2)
			if spiked != inSpike {
				t.Fatalf("node %d: tick from %d at %v: spiked %v, want %v", i, d.from, d.at, spiked, inSpike)
			}
		}
	}
}
