package stratum_test

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/stratum"
)

// BenchmarkIdleConnections measures the share rate of one mining
// connection with no other connection and beside 1,000 idle ones
// (subscribed, authorised, each paying its own address): the ratio of the
// two shows what idle miners cost the one that works. The share difficulty
// is low enough that the rate is the server's round trip more than the
// client's hashing. clean-job-ms is the time from a new tip (a block from
// elsewhere, validated and stored) to the mining connection's clean job.
func BenchmarkIdleConnections(b *testing.B) {
	const diff = 1e-7
	for _, idle := range []int{0, 1000} {
		b.Run(fmt.Sprintf("idle=%d", idle), func(b *testing.B) {
			ts := startServer(b, stratum.ServerConfig{MaxConns: 2 * idle, MaxPerHost: 2 * idle}, true)
			for i := range idle {
				c := dial(b, ts.addr)
				c.start(chain.Address{byte(i >> 8), byte(i), 0x1d}.String(), "x")
				go io.Copy(io.Discard, c.conn)
			}
			if n := ts.srv.Stats().Connections; n != idle {
				b.Fatalf("%d connections, want %d idle", n, idle)
			}
			m := dial(b, ts.addr)
			user := alice.String() + ".bench"
			job := m.start(user, fmt.Sprintf("d=%g", diff))
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				if r := m.submit(m.share(job, user, true)); string(r.Result) != "true" {
					b.Fatalf("share refused: %s", r.Error)
				}
				job.Time++ // a new header for the next share
			}
			secs := time.Since(start).Seconds()
			b.ReportMetric(float64(b.N)/secs, "shares/s")
			b.ReportMetric(float64(b.N)*diff*(1<<32)/secs, "H/s")

			// A new tip takes a template per address: the mining
			// connection's clean job waits for up to all of them.
			b.StopTimer()
			n, tipAt := len(m.jobs), time.Now()
			ts.newTip(b)
			m.job(n)
			b.ReportMetric(float64(time.Since(tipAt).Microseconds())/1000, "clean-job-ms")
		})
	}
}
