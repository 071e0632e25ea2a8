package hasher_test

import (
	"context"
	"testing"

	"github.com/hashforge/hashforge/hasher"
	"github.com/hashforge/hashforge/hasher/cpu"
)

func TestDescribeHealth(t *testing.T) {
	temp, power := 64.0, 301.25
	for _, tt := range []struct {
		h    *hasher.Health
		note string
		want string
	}{
		{nil, "GPU health not available: no NVML (libnvidia-ml.so.1 not found)", "GPU health not available: no NVML (libnvidia-ml.so.1 not found)"},
		{&hasher.Health{TemperatureC: &temp, PowerW: &power}, "", "health: 64 °C, 301.2 W"},
		{&hasher.Health{}, "", "GPU health: no readings"},
		{nil, "", ""},
	} {
		if got := (hasher.ListedDevice{Health: tt.h, HealthNote: tt.note}).DescribeHealth(); got != tt.want {
			t.Errorf("DescribeHealth = %q, want %q", got, tt.want)
		}
	}
}

func TestFormatRate(t *testing.T) {
	for _, tt := range []struct {
		hs   float64
		want string
	}{
		{0, "0 H/s"}, {999.4, "999 H/s"}, {1000, "1.00 kH/s"}, {12_345_678, "12.35 MH/s"},
		{7.32e9, "7.32 GH/s"}, {2.5e12, "2.50 TH/s"}, {3e15, "3000.00 TH/s"},
	} {
		if got := hasher.FormatRate(tt.hs); got != tt.want {
			t.Errorf("FormatRate(%g) = %q, want %q", tt.hs, got, tt.want)
		}
	}
}

// TestSearch: with a target every hash meets, each nonce of the range is a
// hit, reported once, and the hashes counted are the range.
func TestSearch(t *testing.T) {
	devs, err := hasher.OpenAll(cpu.New(2))
	if err != nil {
		t.Fatal(err)
	}
	defer hasher.CloseAll(devs)
	var w hasher.Work
	for i := range w.Target {
		w.Target[i] = 0xff
	}
	const start, count = 1000, 300
	seen := map[uint32]bool{}
	hashes, err := hasher.Search(context.Background(), devs, w, start, count, func(h hasher.Hit) {
		if seen[h.Nonce] || h.Nonce < start || h.Nonce >= start+count {
			t.Errorf("hit at nonce %d: a repeat or outside [%d, %d)", h.Nonce, start, start+count)
		}
		seen[h.Nonce] = true
	})
	if err != nil || hashes != count || len(seen) != count {
		t.Errorf("Search: %d hashes, %d hits, %v; want %d of each", hashes, len(seen), err, count)
	}
}
