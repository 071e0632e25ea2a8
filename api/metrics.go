package api

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/hasher"
)

// metrics reads counters from the node's parts at scrape time, so the hot
// paths (hashing, messages, validation) keep plain counters and know nothing
// of Prometheus.
type metrics struct {
	cfg    Config
	health *health
}

func newDesc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	descInfo = newDesc("miner_info",
		"Always 1: the node's version and network as labels.", "version", "network")
	descMining = newDesc("miner_mining",
		"1 while the miner hashes for blocks, 0 while it is stopped.")
	descHashes = newDesc("miner_hashes_total",
		"Header hashes computed; rate() of it is the hashrate.", "backend", "device")
	descDeviceErrors = newDesc("miner_device_errors_total",
		"Failed searches and hits that failed the CPU re-check.", "backend", "device")
	descDevicePaused = newDesc("miner_device_paused",
		"1 while a device waits to cool below --gpu-temp-limit.", "backend", "device")
	descDeviceTemp = newDesc("miner_device_temperature_celsius",
		"GPU temperature, from NVML; absent where not available.", "backend", "device")
	descDevicePower = newDesc("miner_device_power_watts",
		"GPU power draw, from NVML; absent where not available.", "backend", "device")
	descDeviceFan = newDesc("miner_device_fan_speed_ratio",
		"GPU fan speed as a share of its maximum, from NVML; absent without a fan.", "backend", "device")
	descDeviceClock = newDesc("miner_device_clock_hertz",
		"GPU clocks (sm, memory), from NVML; absent where not available.", "backend", "device", "clock")
	descBlocksMined = newDesc("miner_blocks_mined_total",
		"Blocks this node mined that the chain accepted.")
	descWriteErrors = newDesc("miner_mining_write_errors_total",
		"Failed attempts to store a mined block (a full disk); mining stops until one succeeds.")
	descHeight = newDesc("miner_chain_height",
		"Height of the main chain's tip.")
	descWork = newDesc("miner_chain_work_hashes",
		"Cumulative work of the main chain: the expected hashes to build it.")
	descDifficulty = newDesc("miner_chain_difficulty",
		"Difficulty of the tip, relative to Bitcoin's difficulty 1.")
	descTipTime = newDesc("miner_chain_tip_timestamp_seconds",
		"Timestamp of the tip's header; time() minus it is the tip's age.")
	descReorgs = newDesc("miner_chain_reorgs_total",
		"Moves of the main chain to another branch that detached blocks.")
	descValidation = newDesc("miner_block_validation_duration_seconds",
		"Time taken to check and connect a block, from any source.")
	descPeers = newDesc("miner_peers",
		"Connected peers that completed the handshake.", "direction")
	descMessages = newDesc("miner_p2p_messages_total",
		"P2P messages by command.", "command", "direction")
	descBytes = newDesc("miner_p2p_bytes_total",
		"P2P bytes on the wire, frame headers included, by command.", "command", "direction")
	descBans = newDesc("miner_p2p_bans_total",
		"Peers disconnected and discouraged for breaking the protocol.")
	descPoolTxs = newDesc("miner_mempool_transactions",
		"Transactions waiting in the mempool.")
	descPoolBytes = newDesc("miner_mempool_bytes",
		"Encoded size of the transactions waiting in the mempool.")
	descStratumConns = newDesc("miner_stratum_connections",
		"Open connections to the Stratum server, authorised or not.")
	descStratumShares = newDesc("miner_stratum_shares_total",
		"Shares Stratum miners submitted, by result: accepted or the reason of the refusal.", "result")
	descStratumBlocks = newDesc("miner_stratum_blocks_total",
		"Blocks Stratum miners found that the chain accepted.")
	descStratumHashrate = newDesc("miner_stratum_hashrate_hashes_per_second",
		"Stratum miners' hashrate, estimated from their shares over the last 5 minutes.")
	descPoolConnected = newDesc("miner_pool_connected",
		"1 while the devices mine for the pool named in the label, 0 while it is being tried.", "pool")
	descPoolShares = newDesc("miner_pool_shares_total",
		"Shares the devices found for the pool, by result: accepted, stale (not sent) or the reason of the refusal.", "result")
	descPoolDifficulty = newDesc("miner_pool_difficulty",
		"The share difficulty the pool set.")
	descPoolLatency = newDesc("miner_pool_latency_seconds",
		"Moving average of the round trip of a request to the pool and its answer.")
	descPoolSwitches = newDesc("miner_pool_switches_total",
		"Moves from one pool of --pool to another.")
	descHealthy = newDesc("miner_healthy",
		"1 when GET /api/health answers 200, 0 when it answers 503.")
	descHealthProblem = newDesc("miner_health_problem",
		"1 for each reason the node is not healthy, 0 for the others.", "reason")
)

// newMetricsHandler serves the node's metrics from a registry of its own,
// with the Go runtime and process collectors beside them.
func newMetricsHandler(cfg Config, h *health) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&metrics{cfg: cfg, health: h},
	)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		descInfo, descMining, descHashes, descDeviceErrors, descDevicePaused,
		descDeviceTemp, descDevicePower, descDeviceFan, descDeviceClock, descBlocksMined, descWriteErrors,
		descHeight, descWork, descDifficulty, descTipTime, descReorgs, descValidation,
		descPeers, descMessages, descBytes, descBans, descPoolTxs, descPoolBytes,
		descStratumConns, descStratumShares, descStratumBlocks, descStratumHashrate,
		descPoolConnected, descPoolShares, descPoolDifficulty, descPoolLatency, descPoolSwitches,
		descHealthy, descHealthProblem,
	} {
		ch <- d
	}
}

func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}

	c := m.cfg.Chain
	gauge(descInfo, 1, m.cfg.Version, c.Params().Name)
	tip := c.Tip()
	gauge(descHeight, float64(tip.Height))
	work, _ := tip.Work.Float64()
	gauge(descWork, work)
	gauge(descDifficulty, chain.Difficulty(tip.Header.Bits))
	gauge(descTipTime, float64(tip.Header.Timestamp))
	st := c.Stats()
	counter(descReorgs, st.Reorgs)
	ch <- prometheus.MustNewConstHistogram(descValidation, st.Validation.Count, st.Validation.Sum, st.Validation.Cumulative())

	var devs []hasher.DeviceStats
	if mi := m.cfg.Miner; mi != nil {
		devs = mi.Devices()
		mining := 0.0
		if mi.Mining() {
			mining = 1
		}
		gauge(descMining, mining)
		counter(descBlocksMined, mi.BlocksFound())
		counter(descWriteErrors, mi.WriteErrors())
		for _, d := range devs {
			b, id := d.Info.Backend, d.Info.ID()
			counter(descHashes, d.Hashes, b, id)
			counter(descDeviceErrors, d.Errors, b, id)
			paused := 0.0
			if d.Paused {
				paused = 1
			}
			gauge(descDevicePaused, paused, b, id)
			if h := d.Health; h != nil {
				for _, r := range []struct {
					desc   *prometheus.Desc
					v      *float64
					scale  float64
					labels []string
				}{
					{descDeviceTemp, h.TemperatureC, 1, nil},
					{descDevicePower, h.PowerW, 1, nil},
					{descDeviceFan, h.FanPercent, 0.01, nil},
					{descDeviceClock, h.SMClockMHz, 1e6, []string{"sm"}},
					{descDeviceClock, h.MemoryClockMHz, 1e6, []string{"memory"}},
				} {
					if r.v != nil {
						gauge(r.desc, *r.v*r.scale, append([]string{b, id}, r.labels...)...)
					}
				}
			}
		}
	}

	p := m.cfg.Peers
	byDir := map[string]int{"inbound": 0, "outbound": 0}
	for _, pi := range p.Peers() {
		byDir[pi.Direction]++
	}
	for dir, n := range byDir {
		gauge(descPeers, float64(n), dir)
	}
	for _, t := range p.Traffic() {
		counter(descMessages, t.Messages, t.Command, t.Direction)
		counter(descBytes, t.Bytes, t.Command, t.Direction)
	}
	counter(descBans, p.Bans())

	if srv := m.cfg.Stratum; srv != nil {
		st := srv.Stats()
		gauge(descStratumConns, float64(st.Connections))
		// accepted has a series from the first scrape; refusals from
		// their first share.
		counter(descStratumShares, st.Shares["accepted"], "accepted")
		for result, n := range st.Shares {
			if result != "accepted" {
				counter(descStratumShares, n, result)
			}
		}
		counter(descStratumBlocks, st.BlocksFound)
		gauge(descStratumHashrate, st.Hashrate)
	}

	if c := m.cfg.PoolClient; c != nil {
		st := c.Stats()
		connected := 0.0
		if st.Connected {
			connected = 1
		}
		gauge(descPoolConnected, connected, st.URL)
		// Stale shares are one series, whether the client held them back
		// or the pool refused them as stale.
		counter(descPoolShares, st.SharesAccepted, "accepted")
		counter(descPoolShares, st.SharesStale+st.RejectedBy["stale"], "stale")
		for reason, n := range st.RejectedBy {
			if reason != "stale" {
				counter(descPoolShares, n, reason)
			}
		}
		gauge(descPoolDifficulty, st.Difficulty)
		gauge(descPoolLatency, st.LatencyAvgMS/1000)
		counter(descPoolSwitches, st.Switches)
	}

	pool := m.cfg.Pool.Stats()
	gauge(descPoolTxs, float64(pool.Count))
	gauge(descPoolBytes, float64(pool.Bytes))

	// Every reason has a series, 0 while it does not hold, so an alert
	// sees each from the first scrape.
	problems := map[string]float64{}
	for _, p := range m.health.problems(devs) {
		problems[p.Reason] = 1
	}
	healthy := 1.0
	if len(problems) > 0 {
		healthy = 0
	}
	gauge(descHealthy, healthy)
	for _, reason := range healthReasons {
		gauge(descHealthProblem, problems[reason], reason)
	}
}
