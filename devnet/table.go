package devnet

import (
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/hasher"
)

// shortDigits is how much of a tip or node id the table shows: devnet tips
// all start with zeros, so a tip shows its last digits, an id its first.
const shortDigits = 12

// render writes one table of the nodes' states.
func (c *Config) render(w io.Writer, states []nodeState, now time.Time) {
	up, tips := 0, map[chain.Hash]bool{}
	var minH, maxH uint64
	for _, s := range states {
		if s.st == nil {
			continue
		}
		if up == 0 || s.st.Height < minH {
			minH = s.st.Height
		}
		maxH = max(maxH, s.st.Height)
		up++
		tips[s.st.Tip] = true
	}
	summary := fmt.Sprintf("%d of %d up", up, len(states))
	switch {
	case up == 0:
	case len(tips) == 1:
		summary += fmt.Sprintf(", one tip at height %d", maxH)
	case minH == maxH:
		summary += fmt.Sprintf(", %d tips at height %d", len(tips), maxH)
	default:
		summary += fmt.Sprintf(", %d tips at heights %d-%d", len(tips), minH, maxH)
	}
	fmt.Fprintf(w, "hashforge devnet on %s %s: %s\n", c.Network.Name, now.Format("15:04:05"), summary)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tSTATE\tID\tP2P\tHTTP\tHEIGHT\tTIP\tPEERS\tHASHRATE\tAGREE")
	var notes []string
	for _, s := range states {
		id, height, tip, peers, rate, agree := "-", "-", "-", "-", "-", "-"
		if s.id != nil {
			id = s.id.String()[:shortDigits]
		}
		if s.state == "down" {
			notes = append(notes, fmt.Sprintf("node%d down: %v (see %s)", s.index, s.err, filepath.Join(c.nodeDir(s.index), "node.log")))
		}
		if st := s.st; st != nil {
			t := st.Tip.String()
			height, tip, peers = strconv.FormatUint(st.Height, 10), t[len(t)-shortDigits:], strconv.Itoa(st.Peers)
			if st.Hashrate.S10 != nil {
				rate = hasher.FormatRate(*st.Hashrate.S10)
			} else if st.Mining {
				rate = "measuring" // the API's 10 s window has not filled
			}
			if st.Agreement != nil {
				agree = fmt.Sprintf("%d/%d", st.PeersAgreeing, st.Peers)
			}
		}
		fmt.Fprintf(tw, "node%d\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\n", s.index, s.state, id, c.p2pPort(s.index), c.httpPort(s.index), height, tip, peers, rate, agree)
	}
	tw.Flush()
	for _, note := range notes {
		fmt.Fprintln(w, note)
	}
}
