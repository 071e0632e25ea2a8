package api_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashforge/hashforge/api"
	"github.com/hashforge/hashforge/apiclient"
	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/hasher"
	"github.com/hashforge/hashforge/hasher/cpu"
)

// storage is a datadir whose writes fail with err, or pass when it is nil.
type storage struct{ err error }

func (s storage) Writable() error { return s.err }

// erringMiner is a miner that reports an error of its own, as one whose
// blocks cannot be stored does.
type erringMiner struct {
	api.Miner
	err error
}

func (m erringMiner) MiningError() error { return m.err }

// failing is a device whose every search fails: the scheduler stops it.
type failing struct{ hasher.Device }

func (failing) Search(*hasher.Work, uint32, uint32, []uint32) ([]uint32, error) {
	return nil, errors.New("device lost")
}

// TestHealth: GET /api/health answers 200 for a healthy node and 503 with
// every reason otherwise, and the metrics say the same.
func TestHealth(t *testing.T) {
	devs, err := hasher.OpenAll(cpu.New(1))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		device hasher.Device
		opt    func(*api.Config)
		setup  func(t *testing.T, n *node)
		want   []string // the reasons
	}{
		{"healthy, idle", devs[0], func(c *api.Config) { c.Storage = storage{} }, nil, nil},
		{"healthy, mining", devs[0], nil, func(t *testing.T, n *node) {
			n.run(t)
			n.miner.SetMining(true)
			waitUntil(t, "the miner runs", n.miner.Mining)
		}, nil},
		{"the datadir takes no writes", devs[0], func(c *api.Config) { c.Storage = storage{errors.New("read-only file system")} }, nil,
			[]string{"store_unwritable"}},
		{"asked to mine, the miner not running", devs[0], nil, func(t *testing.T, n *node) { n.miner.SetMining(true) },
			[]string{"mining_stopped"}},
		{"mining on failed devices", failing{devs[0]}, nil, func(t *testing.T, n *node) {
			n.run(t)
			n.miner.SetMining(true)
			waitUntil(t, "the device stopped", func() bool { return n.miner.Devices()[0].Stopped })
		}, []string{"devices_failed"}},
		{"the miner's own error", devs[0], func(c *api.Config) { c.Miner = erringMiner{c.Miner, errors.New("disk full")} }, nil,
			[]string{"mining_failed"}},
		{"all at once", devs[0], func(c *api.Config) {
			c.Storage = storage{errors.New("disk full")}
			c.Miner = erringMiner{c.Miner, errors.New("disk full")}
		}, func(t *testing.T, n *node) { n.miner.SetMining(true) }, []string{"store_unwritable", "mining_stopped", "mining_failed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []func(*api.Config)
			if tt.opt != nil {
				opts = append(opts, tt.opt)
			}
			n := newServerOn(t, hasher.NewScheduler([]hasher.Device{tt.device}, quiet), chain.FaucetKey(), opts...)
			if tt.setup != nil {
				tt.setup(t, n)
			}
			want := http.StatusOK
			if len(tt.want) > 0 {
				want = http.StatusServiceUnavailable
			}
			code, ctype, body := get(t, n.URL+"/api/health")
			var h apiclient.Health
			if err := json.Unmarshal([]byte(body), &h); err != nil || code != want || ctype != "application/json" || h.Problems == nil {
				t.Fatalf("GET /api/health: %d %q %s (%v), want %d and a JSON body with a list of problems", code, ctype, body, err, want)
			}
			var reasons []string
			for _, p := range h.Problems {
				reasons = append(reasons, p.Reason)
				if p.Message == "" {
					t.Errorf("problem %s without a message", p.Reason)
				}
			}
			if h.Healthy != (len(tt.want) == 0) || !slices.Equal(reasons, tt.want) {
				t.Errorf("GET /api/health: %s, want healthy %t and reasons %q", body, len(tt.want) == 0, tt.want)
			}

			_, _, metrics := get(t, n.URL+"/metrics")
			lines := []string{fmt.Sprintf("miner_healthy %d", boolInt(len(tt.want) == 0))}
			for _, reason := range []string{"store_unwritable", "chain_stalled", "mining_stopped", "devices_failed", "mining_failed"} {
				lines = append(lines, fmt.Sprintf(`miner_health_problem{reason="%s"} %d`, reason, boolInt(slices.Contains(tt.want, reason))))
			}
			for _, line := range lines {
				if !strings.Contains(metrics, "\n"+line+"\n") {
					t.Errorf("metrics lack %q", line)
				}
			}
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// waitUntil polls cond for up to 10 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10 s", what)
		}
	}
}
