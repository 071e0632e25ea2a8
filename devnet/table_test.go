package devnet

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hashforge/hashforge/apiclient"
	"github.com/hashforge/hashforge/chain"
)

// TestRender: each state's row, ids and the 10 s hashrate as soon as the
// node reports one, and a note for a node that ended by itself.
func TestRender(t *testing.T) {
	c := &Config{BasePort: 19000, Dir: "net", Network: chain.Devnet}
	id := chain.Address{0xab, 0xcd}
	rate, agree := 2.5e6, 1.0
	tip := chain.Hash{31: 0x12, 0: 0x34}
	mining := &apiclient.Status{NodeID: id, Height: 7, Tip: tip, Mining: true, Peers: 2, PeersAgreeing: 2, Agreement: &agree,
		Hashrate: apiclient.Rates{S10: &rate}}
	measuring := &apiclient.Status{NodeID: id, Height: 7, Tip: tip, Mining: true}
	idle := &apiclient.Status{NodeID: id, Height: 6, Tip: chain.Hash{1}}
	var b bytes.Buffer
	c.render(&b, []nodeState{
		{index: 0, state: "up", id: &id, st: mining},
		{index: 1, state: "up", id: &id, st: measuring},
		{index: 2, state: "up", id: &id, st: idle},
		{index: 3, state: "starting"},
		{index: 4, state: "no answer", id: &id},
		{index: 5, state: "down", id: &id, err: errors.New("exit status 1")},
		{index: 6, state: "stopped", id: &id},
	}, time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC))
	want := []string{
		"hashforge devnet on devnet 15:04:05: 3 of 7 up, 2 tips at heights 6-7",
		"NODE   STATE      ID            P2P    HTTP   HEIGHT  TIP           PEERS  HASHRATE   AGREE",
		"node0  up         abcd00000000  19000  19100  7       000000000034  2      2.50 MH/s  2/2",
		"node1  up         abcd00000000  19001  19101  7       000000000034  0      measuring  -",
		"node2  up         abcd00000000  19002  19102  6       000000000001  0      -          -",
		"node3  starting   -             19003  19103  -       -             -      -          -",
		"node4  no answer  abcd00000000  19004  19104  -       -             -      -          -",
		"node5  down       abcd00000000  19005  19105  -       -             -      -          -",
		"node6  stopped    abcd00000000  19006  19106  -       -             -      -          -",
		"node5 down: exit status 1 (see net/node5/node.log)",
		"",
	}
	if got := b.String(); got != strings.Join(want, "\n") {
		t.Errorf("table:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}
