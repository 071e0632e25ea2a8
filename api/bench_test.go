package api_test

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/hasher"
	"github.com/hashforge/hashforge/hasher/cpu"
	"github.com/hashforge/hashforge/hasher/hashertest"
)

// BenchmarkMiningScraped measures what a Prometheus scrape every second costs
// the miner: the same CPU search of 2^20 nonces per op on every core, alone
// and while /metrics is fetched once a second, side by side in one run. The
// scraped H/s over the unscraped H/s is the hashrate kept (target: > 99 %).
func BenchmarkMiningScraped(b *testing.B) {
	for _, tc := range []struct {
		name  string
		every time.Duration
	}{
		{"unscraped", 0},
		{"scraped_every_1s", time.Second},
	} {
		b.Run(tc.name, func(b *testing.B) {
			devs, err := hasher.OpenAll(cpu.New(runtime.NumCPU()))
			if err != nil {
				b.Fatal(err)
			}
			sched := hasher.NewScheduler(devs, quiet)
			srv := newServerOn(b, sched, chain.FaucetKey())
			ctx, cancel := context.WithCancel(context.Background())
			scraped := make(chan int)
			go func() { scraped <- scrape(ctx, b, srv.URL+"/metrics", tc.every) }()

			// A target no hash meets: the search never stops early.
			w := hashertest.EasyWork(rand.New(rand.NewPCG(1, 2)), 60)
			const nonces = 1 << 20
			b.ResetTimer()
			for range b.N {
				if err := sched.SearchRange(ctx, w, 0, nonces, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			cancel()
			if n := <-scraped; tc.every > 0 && b.Elapsed() > 2*tc.every && n == 0 {
				b.Fatal("no scrape during the run")
			}
			b.ReportMetric(float64(b.N)*nonces/b.Elapsed().Seconds(), "H/s")
		})
	}
}

// scrape fetches url every interval until ctx ends and returns how many
// scrapes it made; a zero interval scrapes nothing.
func scrape(ctx context.Context, b *testing.B, url string, every time.Duration) int {
	if every == 0 {
		<-ctx.Done()
		return 0
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	n := 0
	for {
		select {
		case <-ctx.Done():
			return n
		case <-tick.C:
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			if ctx.Err() == nil {
				b.Error(err)
			}
			return n
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		n++
	}
}

// BenchmarkScrape is the work of one /metrics scrape on a node: the chain,
// miner, peer and pool series with the Go and process collectors.
func BenchmarkScrape(b *testing.B) {
	srv := newServer(b, chain.FaucetKey())
	b.ReportAllocs()
	for range b.N {
		rec := httptest.NewRecorder()
		srv.Config.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://127.0.0.1/metrics", nil))
		if rec.Code != http.StatusOK {
			b.Fatalf("scrape: %d", rec.Code)
		}
	}
}
