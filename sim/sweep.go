package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// SweepRow is one run of a sweep over block intervals: the stale rate it
// measured beside the one theory gives for the propagation it measured,
// 1 − e^(−τ/T) (a block found while another is still spreading forks).
type SweepRow struct {
	IntervalS         float64 `json:"interval_s"`
	Blocks            int     `json:"blocks"`
	StaleBlocks       int     `json:"stale_blocks"`
	StaleRate         float64 `json:"stale_rate"`
	MeanPropagationMS float64 `json:"mean_propagation_ms"`
	TheoryStaleRate   float64 `json:"theory_stale_rate"`
	// Ratio is StaleRate over TheoryStaleRate; 0 when theory gives 0.
	Ratio  float64 `json:"ratio"`
	Digest string  `json:"digest"`
}

// Sweep runs cfg once per block interval, all else (the seed included)
// the same, and returns a row per run.
func Sweep(ctx context.Context, cfg Config, intervals []time.Duration, newNode func(i int) Node) ([]SweepRow, error) {
	var rows []SweepRow
	for _, iv := range intervals {
		c := cfg
		c.Interval, c.Settle = iv, 0
		if c.TxInterval > 0 {
			// The same transfers a block at every interval.
			c.TxInterval = time.Duration(float64(cfg.TxInterval) * float64(iv) / float64(cfg.Interval))
		}
		r, err := Run(ctx, c, newNode)
		if err != nil {
			return rows, fmt.Errorf("sim: sweep at %v: %w", iv, err)
		}
		row := SweepRow{IntervalS: iv.Seconds(), Blocks: r.Blocks, StaleBlocks: r.StaleBlocks, StaleRate: r.StaleRate,
			MeanPropagationMS: r.MeanPropagationMS, TheoryStaleRate: r.TheoryStaleRate, Digest: r.Digest}
		if r.TheoryStaleRate > 0 {
			row.Ratio = r.StaleRate / r.TheoryStaleRate
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// WriteSweep writes rows as DIR/sweep.json and DIR/stale_sweep.svg (the
// measured and the theoretical stale rate against the block interval).
func WriteSweep(dir string, rows []SweepRow) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(rows, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "sweep.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "stale_sweep.svg"), sweepSVG(rows), 0o644)
}

// SweepTable is rows as a text table.
func SweepTable(rows []SweepRow) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%10s %7s %6s %10s %10s %12s %6s\n", "interval", "blocks", "stale", "stale %", "tau ms", "theory %", "ratio")
	for _, r := range rows {
		fmt.Fprintf(&b, "%9gs %7d %6d %9.2f%% %10.0f %11.2f%% %6.2f\n", r.IntervalS, r.Blocks, r.StaleBlocks,
			100*r.StaleRate, r.MeanPropagationMS, 100*r.TheoryStaleRate, r.Ratio)
	}
	return b.String()
}

// sweepSVG plots the stale rate, measured (points) and theoretical (line),
// against the block interval on a log scale.
func sweepSVG(rows []SweepRow) []byte {
	const w, h, l, rt, t, bt = 640, 400, 60, 20, 30, 50
	var b bytes.Buffer
	fmt.Fprintf(&b, svgHead, w, h, w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	fmt.Fprintf(&b, `<text x="%d" y="18" text-anchor="middle">Stale rate against block interval: measured (points), 1 − e^(−τ/T) (line)</text>`+"\n", w/2)
	if len(rows) == 0 {
		b.WriteString("</svg>\n")
		return b.Bytes()
	}
	pw, ph := float64(w-l-rt), float64(h-t-bt)
	lo, hi, ymax := math.Inf(1), math.Inf(-1), 0.0
	for _, r := range rows {
		lo, hi = math.Min(lo, r.IntervalS), math.Max(hi, r.IntervalS)
		ymax = math.Max(ymax, math.Max(r.StaleRate, r.TheoryStaleRate))
	}
	if hi <= lo {
		hi = lo * 10
	}
	step := niceStep(100*ymax, 5)
	ymax = math.Max(step, math.Ceil(100*ymax/step)*step) / 100
	x := func(s float64) float64 { return float64(l) + math.Log(s/lo)/math.Log(hi/lo)*pw }
	y := func(f float64) float64 { return float64(t) + (1-f/ymax)*ph }
	for _, r := range rows {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/><text x="%.1f" y="%d" text-anchor="middle">%gs</text>`+"\n",
			x(r.IntervalS), t, x(r.IntervalS), h-bt, x(r.IntervalS), h-bt+16, r.IntervalS)
	}
	for v := 0.0; v <= 100*ymax+step/2; v += step {
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" text-anchor="end">%g%%</text>`+"\n",
			l, y(v/100), w-rt, y(v/100), l-6, y(v/100)+4, v)
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">block interval (log scale)</text>`+"\n", l+int(pw)/2, h-12)
	b.WriteString(`<polyline fill="none" stroke="#ff7f0e" stroke-width="2" points="`)
	for _, r := range rows {
		fmt.Fprintf(&b, "%.1f,%.1f ", x(r.IntervalS), y(r.TheoryStaleRate))
	}
	b.WriteString("\"/>\n")
	for _, r := range rows {
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="4" fill="#1f77b4"/>`+"\n", x(r.IntervalS), y(r.StaleRate))
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}
