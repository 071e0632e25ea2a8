package chain_test

import (
	"testing"

	"github.com/hashforge/hashforge/chain"
)

func TestParseCoins(t *testing.T) {
	tests := []struct {
		in      string
		want    uint64
		wantErr bool
	}{
		{in: "0", want: 0},
		{in: "1", want: chain.Coin},
		{in: "12.5", want: 1_250_000_000},
		{in: ".5", want: 50_000_000},
		{in: "0.00000001", want: 1},
		{in: "1.10000000", want: 110_000_000},
		{in: "0.1", want: 10_000_000}, // 0.1 has no exact float64: parsed as decimal
		{in: "21000000", want: chain.MaxMoney},
		{in: "21000000.00000001", wantErr: true},
		{in: "99999999999999999999", wantErr: true},
		{in: "0.000000001", wantErr: true},
		{in: "", wantErr: true},
		{in: ".", wantErr: true},
		{in: "1.", wantErr: true},
		{in: "-1", wantErr: true},
		{in: "+1", wantErr: true},
		{in: "1e3", wantErr: true},
		{in: " 1", wantErr: true},
		{in: "1,5", wantErr: true},
		{in: "1.2.3", wantErr: true},
	}
	for _, tt := range tests {
		got, err := chain.ParseCoins(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseCoins(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestFormatCoins(t *testing.T) {
	for units, want := range map[uint64]string{
		0:              "0.00000000",
		1:              "0.00000001",
		chain.Coin:     "1.00000000",
		1_250_000_000:  "12.50000000",
		chain.MaxMoney: "21000000.00000000",
	} {
		if got := chain.FormatCoins(units); got != want {
			t.Errorf("FormatCoins(%d) = %q, want %q", units, got, want)
		}
		if back, err := chain.ParseCoins(want); err != nil || back != units {
			t.Errorf("ParseCoins(%q) = %d, %v; want %d", want, back, err, units)
		}
	}
}

// FuzzParseCoins: whatever parses formats back to the same number of units.
func FuzzParseCoins(f *testing.F) {
	for _, s := range []string{"0", "12.5", ".00000001", "21000000", "1e3", "-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		units, err := chain.ParseCoins(s)
		if err != nil {
			return
		}
		if units > chain.MaxMoney {
			t.Fatalf("ParseCoins(%q) = %d, above MaxMoney", s, units)
		}
		if back, err := chain.ParseCoins(chain.FormatCoins(units)); err != nil || back != units {
			t.Fatalf("ParseCoins(FormatCoins(%d)) = %d, %v", units, back, err)
		}
	})
}
