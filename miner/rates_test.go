package miner

import (
	"slices"
	"testing"
	"time"
)

func TestMeterRates(t *testing.T) {
	m := newMeter(time.Minute)
	t0 := time.Unix(1_800_000_000, 0)
	if _, ok := m.rate(10*time.Second, -1); ok {
		t.Fatal("rate before any sample")
	}
	// Two devices: 100 and 300 hashes per second, sampled every second.
	for s := 0; s <= 70; s++ {
		m.add(t0.Add(time.Duration(s)*time.Second), []uint64{uint64(100 * s), uint64(300 * s)})
		if s == 9 {
			if _, ok := m.rate(10*time.Second, -1); ok {
				t.Fatal("10 s window filled after 9 s")
			}
		}
	}
	tests := []struct {
		window time.Duration
		device int
		want   float64
		ok     bool
	}{
		{10 * time.Second, -1, 400, true},
		{10 * time.Second, 0, 100, true},
		{time.Minute, 1, 300, true},
		{15 * time.Minute, -1, 0, false}, // not filled: the meter keeps one minute
	}
	for _, tt := range tests {
		got, ok := m.rate(tt.window, tt.device)
		if ok != tt.ok || got != tt.want {
			t.Errorf("rate(%v, %d) = %v, %v; want %v, %v", tt.window, tt.device, got, ok, tt.want, tt.ok)
		}
	}
	if n := len(m.samples); n > 62 {
		t.Errorf("meter keeps %d samples for a one-minute window", n)
	}
}

// The API shows three windows by their spans: the miner hands out copies, so
// a reader cannot change what the meter keeps.
func TestWindows(t *testing.T) {
	m := &Miner{}
	got := m.Windows()
	want := []time.Duration{10 * time.Second, time.Minute, 15 * time.Minute}
	if !slices.Equal(got, want) {
		t.Fatalf("Windows() = %v, want %v", got, want)
	}
	got[0] = time.Hour
	if m.Windows()[0] != want[0] {
		t.Error("a change to what Windows returned reached the miner")
	}
}
