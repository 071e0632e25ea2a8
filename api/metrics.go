package api

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics reads counters from the chain and miner at scrape time, so the hot
// path of hashing keeps plain atomics and knows nothing of Prometheus.
type metrics struct {
	chain Chain
	miner Miner
}

var (
	descHashes = prometheus.NewDesc("miner_hashes_total",
		"Header hashes computed; rate() of it is the hashrate.", []string{"backend", "device"}, nil)
	descDeviceErrors = prometheus.NewDesc("miner_device_errors_total",
		"Failed searches and hits that failed the CPU re-check.", []string{"backend", "device"}, nil)
	descBlocksMined = prometheus.NewDesc("miner_blocks_mined_total",
		"Blocks this node mined that the chain accepted.", nil, nil)
	descHeight = prometheus.NewDesc("miner_chain_height",
		"Height of the main chain's tip.", nil, nil)
)

func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descHashes, descDeviceErrors, descBlocksMined, descHeight} {
		ch <- d
	}
}

func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(descHeight, prometheus.GaugeValue, float64(m.chain.Tip().Height))
	if m.miner == nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(descBlocksMined, prometheus.CounterValue, float64(m.miner.BlocksFound()))
	for _, d := range m.miner.Devices() {
		ch <- prometheus.MustNewConstMetric(descHashes, prometheus.CounterValue, float64(d.Hashes), d.Info.Backend, d.Info.ID())
		ch <- prometheus.MustNewConstMetric(descDeviceErrors, prometheus.CounterValue, float64(d.Errors), d.Info.Backend, d.Info.ID())
	}
}
