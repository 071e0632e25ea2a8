package sim

import (
	"bytes"
	"fmt"
	"math"
)

// Plots drawn by hand as SVG, so the report needs no dependency.

const svgHead = `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">` + "\n"

// niceStep is a round tick step giving about n ticks over span.
func niceStep(span float64, n int) float64 {
	if span <= 0 {
		return 1
	}
	raw := span / float64(n)
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

// cdfSVG: the fraction of nodes that have the median block against the
// milliseconds since it was found.
func (r *Report) cdfSVG() []byte {
	const w, h, l, rt, t, bt = 640, 400, 60, 20, 30, 50
	var b bytes.Buffer
	fmt.Fprintf(&b, svgHead, w, h, w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	fmt.Fprintf(&b, `<text x="%d" y="18" text-anchor="middle">Propagation of the median block (%d nodes)</text>`+"\n", w/2, r.Nodes)
	pw, ph := float64(w-l-rt), float64(h-t-bt)
	xmax := 1.0
	if n := len(r.cdf); n > 0 && r.cdf[n-1] > 0 {
		xmax = r.cdf[n-1]
	}
	step := niceStep(xmax, 8)
	xmax = math.Ceil(xmax/step) * step
	x := func(v float64) float64 { return float64(l) + v/xmax*pw }
	y := func(f float64) float64 { return float64(t) + (1-f)*ph }
	for v := 0.0; v <= xmax+step/2; v += step {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/><text x="%.1f" y="%d" text-anchor="middle">%g</text>`+"\n",
			x(v), t, x(v), h-bt, x(v), h-bt+16, v)
	}
	for f := 0.0; f <= 1.0001; f += 0.25 {
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" text-anchor="end">%g</text>`+"\n",
			l, y(f), w-rt, y(f), l-6, y(f)+4, f)
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">ms since the block was found</text>`+"\n", l+int(pw)/2, h-12)
	fmt.Fprintf(&b, `<text x="16" y="%d" text-anchor="middle" transform="rotate(-90 16 %d)">fraction of nodes</text>`+"\n", t+int(ph)/2, t+int(ph)/2)
	if len(r.cdf) > 0 {
		b.WriteString(`<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="`)
		prev := 0.0
		for i, v := range r.cdf {
			f := float64(i+1) / float64(r.Nodes)
			fmt.Fprintf(&b, "%.1f,%.1f %.1f,%.1f ", x(v), y(prev), x(v), y(f))
			prev = f
		}
		b.WriteString("\"/>\n")
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// treeSVG: every block found, by height; the final main chain on the
// bottom lane in blue, the others above it in red, each joined to its
// parent.
func (r *Report) treeSVG() []byte {
	maxH, maxL := 1, 0
	for _, tb := range r.tree {
		maxH, maxL = max(maxH, tb.height), max(maxL, tb.lane)
	}
	dx, dy := 12.0, 24.0
	if maxH > 400 {
		dx = 4800 / float64(maxH)
	}
	const l, t = 40, 40
	w := int(float64(l)*2 + float64(maxH)*dx)
	h := int(float64(t)*2 + float64(maxL)*dy)
	var b bytes.Buffer
	fmt.Fprintf(&b, svgHead, w, h, w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	fmt.Fprintf(&b, `<text x="%d" y="18">Fork tree: %d blocks, %d on the main chain (blue), %d stale (red)</text>`+"\n",
		l, r.Blocks, r.MainChainBlocks, r.StaleBlocks)
	x := func(height int) float64 { return float64(l) + float64(height-1)*dx }
	y := func(lane int) float64 { return float64(h-t) - float64(lane)*dy }
	for _, tb := range r.tree {
		if tb.parentLane >= 0 && tb.height > 1 {
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#999"/>`+"\n",
				x(tb.height-1), y(tb.parentLane), x(tb.height), y(tb.lane))
		}
	}
	rad := math.Min(4, dx/2)
	for _, tb := range r.tree {
		color := "#d62728"
		if tb.main {
			color = "#1f77b4"
		}
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="%.1f" fill="%s"/>`+"\n", x(tb.height), y(tb.lane), rad, color)
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}
