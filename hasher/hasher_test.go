package hasher

import "testing"

func TestMeets(t *testing.T) {
	var lo, hi, mid [32]byte
	lo[0] = 1
	hi[31] = 1
	mid[31], mid[0] = 1, 1
	tests := []struct {
		name         string
		hash, target [32]byte
		want         bool
	}{
		{"equal", hi, hi, true},
		{"below", lo, hi, true},
		{"above", hi, lo, false},
		{"low byte decides", mid, hi, false},
		{"high byte decides", lo, mid, true},
	}
	for _, tt := range tests {
		if got := Meets(&tt.hash, &tt.target); got != tt.want {
			t.Errorf("%s: Meets = %v, want %v", tt.name, got, tt.want)
		}
	}
}
