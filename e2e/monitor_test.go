//go:build unix

package e2e

// Acceptance tests of the monitoring deployment in deploy/: a real Prometheus
// scrapes a mining regtest node and answers every query of the Grafana
// dashboard, promtool lints the node's /metrics, and deploy/prometheus.yml
// loads with the targets file `miner devnet` writes.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/devnet"
	"github.com/hashforge/hashforge/internal/testenv"
)

const (
	dashboardPath  = "../deploy/grafana/hashforge.json"
	promConfigPath = "../deploy/prometheus.yml"
)

// needTools skips the test unless every named program is on PATH.
func needTools(t *testing.T, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			testenv.Missing(t, "prometheus", name+" is not on PATH (Debian: apt-get install prometheus, or make deps as root)")
		}
	}
}

// dashboardQuery is one target of a dashboard panel.
type dashboardQuery struct {
	panel, refID, expr string
}

// dashboardQueries returns every panel's target expressions, panels nested in
// rows included, and the template variables' queries by name.
func dashboardQueries(t *testing.T) ([]dashboardQuery, map[string]string) {
	t.Helper()
	b, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		Title   string `json:"title"`
		Targets []struct {
			RefID string `json:"refId"`
			Expr  string `json:"expr"`
		} `json:"targets"`
		Panels []json.RawMessage `json:"panels"`
	}
	var dash struct {
		UID        string            `json:"uid"`
		Panels     []json.RawMessage `json:"panels"`
		Templating struct {
			List []struct {
				Name       string `json:"name"`
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("%s: %v", dashboardPath, err)
	}
	if dash.UID != "hashforge" {
		t.Errorf("dashboard uid %q, want hashforge", dash.UID)
	}
	var queries []dashboardQuery
	var walk func([]json.RawMessage)
	walk = func(raw []json.RawMessage) {
		for _, r := range raw {
			var p panel
			if err := json.Unmarshal(r, &p); err != nil {
				t.Fatalf("%s: panel: %v", dashboardPath, err)
			}
			for _, tg := range p.Targets {
				if tg.Expr == "" {
					t.Errorf("panel %q target %s has no expr", p.Title, tg.RefID)
					continue
				}
				queries = append(queries, dashboardQuery{p.Title, tg.RefID, tg.Expr})
			}
			walk(p.Panels)
		}
	}
	walk(dash.Panels)
	vars := map[string]string{}
	for _, v := range dash.Templating.List {
		vars[v.Name] = v.Definition
	}
	return queries, vars
}

// grafanaVarRE matches a Grafana variable reference: $name, ${name} or ${name:format}.
var grafanaVarRE = regexp.MustCompile(`\$\{(\w+)(?::\w+)?\}|\$(\w+)`)

// expand replaces the Grafana variables in expr with vars' values and reports
// the names it had no value for.
func expand(expr string, vars map[string]string) (string, []string) {
	var unknown []string
	out := grafanaVarRE.ReplaceAllStringFunc(expr, func(ref string) string {
		m := grafanaVarRE.FindStringSubmatch(ref)
		name := m[1] + m[2]
		v, ok := vars[name]
		if !ok {
			unknown = append(unknown, name)
			return ref
		}
		return v
	})
	return out, unknown
}

// grafanaRegexValue is a multi-value variable as Grafana puts it in a
// Prometheus regex matcher: each value's regex metacharacters escaped with a
// backslash (written \\ inside the PromQL string), alternatives in parentheses.
func grafanaRegexValue(values []string) string {
	special := regexp.MustCompile(`[$^*{}\[\]'+?.()|]`)
	esc := make([]string, len(values))
	for i, v := range values {
		v = strings.ReplaceAll(v, `\`, `\\\\`)
		esc[i] = special.ReplaceAllString(v, `\\$0`)
	}
	if len(esc) == 1 {
		return esc[0]
	}
	return "(" + strings.Join(esc, "|") + ")"
}

// promAPI is a Prometheus HTTP API answer.
type promAPI struct {
	Status    string          `json:"status"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Warnings  []string        `json:"warnings"`
	Data      json.RawMessage `json:"data"`
}

// promGet calls the Prometheus API at base; a 4xx answer's JSON error is
// returned as the error.
func promGet(base, path string, params url.Values) (json.RawMessage, error) {
	u := base + path + "?" + params.Encode()
	resp, err := httpClient.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var a promAPI
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		return nil, fmt.Errorf("GET %s: %s: %v", path, resp.Status, err)
	}
	if a.Status != "success" {
		return nil, fmt.Errorf("status %q (%s): %s", a.Status, a.ErrorType, a.Error)
	}
	return a.Data, nil
}

// promQuery runs an instant query and returns how many series it returned
// (1 for a scalar or string result).
func promQuery(base, expr string) (int, error) {
	data, err := promGet(base, "/api/v1/query", url.Values{"query": {expr}})
	if err != nil {
		return 0, err
	}
	var r struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return 0, err
	}
	if r.ResultType == "scalar" || r.ResultType == "string" {
		return 1, nil
	}
	var series []json.RawMessage
	if err := json.Unmarshal(r.Result, &series); err != nil {
		return 0, fmt.Errorf("%s result: %v", r.ResultType, err)
	}
	return len(series), nil
}

// labelValues is Grafana's label_values(selector, label) variable query.
func labelValues(base, selector, label string) ([]string, error) {
	data, err := promGet(base, "/api/v1/label/"+label+"/values", url.Values{"match[]": {selector}})
	if err != nil {
		return nil, err
	}
	var vals []string
	err = json.Unmarshal(data, &vals)
	return vals, err
}

var labelValuesRE = regexp.MustCompile(`^label_values\((.+),\s*(\w+)\)$`)

// startPrometheus runs prometheus on config (a file in dir) until the test
// ends and waits until it is ready; it returns its base URL.
func startPrometheus(t *testing.T, dir, config string) string {
	t.Helper()
	port := freePort(t)
	base := "http://127.0.0.1:" + port
	args := []string{
		"--config.file=" + config,
		"--storage.tsdb.path=" + filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:" + port,
		"--log.level=warn",
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	cmd := exec.CommandContext(ctx, "prometheus", args...)
	cmd.Dir = dir
	out := new(lockedBuffer)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start prometheus: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		// SIGTERM lets it close its TSDB before the temporary directory goes.
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		cancel()
		if t.Failed() {
			t.Logf("prometheus output:\n%s", logTail(out.String()))
		}
	})
	waitFor(t, 30*time.Second, "prometheus ready", func() (bool, string) {
		select {
		case <-done:
			t.Fatalf("prometheus exited at start-up\noutput:\n%s", logTail(out.String()))
		default:
		}
		_, err := httpGet(base + "/-/ready")
		return err == nil, fmt.Sprint(err)
	})
	return base
}

// recordedGPUPath is the /metrics of a node mining with -c on an NVIDIA
// H200 (scripts/gpu-check's machine; bench/RESULTS.md), served as a second
// scrape target: the dashboard's GPU panels meet a real card's series,
// which a machine without a GPU cannot make.
const recordedGPUPath = "testdata/metrics-h200.prom"

// gpuMetrics are the series a node has only for a GPU that NVML reads.
var gpuMetrics = []string{
	"miner_device_temperature_celsius", "miner_device_power_watts",
	"miner_device_fan_speed_ratio", "miner_device_clock_hertz",
}

// TestPrometheusDashboard scrapes a regtest node mining through its own
// Stratum server, and a GPU node's
// recorded /metrics, with a real Prometheus and runs every query of the
// Grafana dashboard against them: each must succeed; each must return a
// series for the live node, or, for the GPU panels, for the recorded card.
// promtool must find nothing to lint in either exposition.
func TestPrometheusDashboard(t *testing.T) {
	needTools(t, "prometheus", "promtool")
	queries, vars := dashboardQueries(t)
	if len(queries) == 0 {
		t.Fatal("the dashboard has no queries")
	}
	recorded, err := os.ReadFile(recordedGPUPath)
	if err != nil {
		t.Fatal(err)
	}
	gpuSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.Write(recorded)
	}))
	t.Cleanup(gpuSrv.Close)
	gpuTarget := strings.TrimPrefix(gpuSrv.URL, "http://")

	// The node mines through its own Stratum server, so that the Stratum
	// and the pool panels have series too.
	stratumPort := freePort(t)
	n := startNode(t, "node", nodeOpts{mine: true, extra: []string{"--stratum-port", stratumPort,
		"--stratum-share-interval", "1s", "--pool", "stratum+tcp://127.0.0.1:" + stratumPort}})
	target := "127.0.0.1:" + n.httpPort
	metrics, err := httpGet(n.url() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	config := filepath.Join(dir, "prometheus.yml")
	conf := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: miner
    static_configs:
      - targets: [%q, %q]
`, target, gpuTarget)
	if err := os.WriteFile(config, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	prom := startPrometheus(t, dir, config)

	// Enough scrapes of both targets for rate() over the windows below to
	// have several points.
	const scrapes = 8
	upQuery := `min(sum_over_time(up{job="miner"}[1m])) and count(up{job="miner"}) == 2`
	waitFor(t, 40*time.Second, fmt.Sprintf("%d successful scrapes of each target", scrapes), func() (bool, string) {
		data, err := promGet(prom, "/api/v1/query", url.Values{"query": {upQuery}})
		if err != nil {
			return false, err.Error()
		}
		var r struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		}
		if err := json.Unmarshal(data, &r); err != nil || len(r.Result) == 0 {
			return false, "not both targets up yet: " + string(data)
		}
		s, _ := r.Result[0].Value[1].(string)
		n, _ := strconv.ParseFloat(s, 64)
		return n >= scrapes, fmt.Sprintf("%s = %s", upQuery, s)
	})

	// Grafana's built-in intervals, as they would be for a short range.
	builtins := map[string]string{
		"__rate_interval": "30s", "__interval": "30s", "__range": "1m",
		"__interval_ms": "30000", "__range_s": "60", "__range_ms": "60000",
	}
	// The template variables' own queries must find both nodes and their
	// devices.
	instances := varValues(t, prom, vars, "instance", builtins)
	for _, want := range []string{target, gpuTarget} {
		if !slices.Contains(instances, want) {
			t.Fatalf("variable instance = %q, want it to contain %s", instances, want)
		}
	}
	nodeVars := func(instance string) map[string]string {
		inst := grafanaRegexValue([]string{instance})
		devices := varValues(t, prom, vars, "device", merge(builtins, map[string]string{"instance": inst}))
		return merge(builtins, map[string]string{"instance": inst, "device": grafanaRegexValue(devices)})
	}

	// A GPU metric that neither node has (the H200 has no fan sensor) leaves
	// its queries without series anywhere: they must still run.
	var absent []string
	for _, m := range gpuMetrics {
		if !bytes.Contains(recorded, []byte("\n"+m+"{")) && !bytes.Contains(metrics, []byte("\n"+m+"{")) {
			absent = append(absent, m)
		}
	}
	mentions := func(expr string, names []string) bool {
		return slices.ContainsFunc(names, func(m string) bool { return strings.Contains(expr, m) })
	}

	// Every query with All selected (the variables' allValue), then with each
	// node's values escaped as Grafana escapes them. A query of GPU metrics
	// must find the recorded card; any other, the live node.
	settings := []struct {
		name string
		vars map[string]string
		must func(expr string) bool // whether expr must return a series
	}{
		{"All", merge(builtins, map[string]string{"instance": ".*", "device": ".*"}),
			func(expr string) bool { return !mentions(expr, absent) }},
		{"the live node", nodeVars(target),
			func(expr string) bool { return !mentions(expr, gpuMetrics) }},
		{"the recorded H200", nodeVars(gpuTarget),
			func(expr string) bool { return mentions(expr, gpuMetrics) && !mentions(expr, absent) }},
	}
	var failed []string
	found := 0
	for _, s := range settings {
		for _, q := range queries {
			expr, unknown := expand(q.expr, s.vars)
			where := fmt.Sprintf("panel %q %s (%s)", q.panel, q.refID, s.name)
			if len(unknown) > 0 {
				failed = append(failed, fmt.Sprintf("%s: unknown variables %q in %s", where, unknown, q.expr))
				continue
			}
			n, err := promQuery(prom, expr)
			switch {
			case err != nil:
				failed = append(failed, fmt.Sprintf("%s: %s\n    %v", where, expr, err))
			case n == 0 && s.must(q.expr):
				failed = append(failed, fmt.Sprintf("%s: %s\n    no series", where, expr))
			case n > 0:
				found++
			}
		}
	}
	if len(failed) > 0 {
		t.Errorf("%d of %d dashboard queries failed:\n%s", len(failed), len(queries)*len(settings), strings.Join(failed, "\n"))
	} else {
		t.Logf("%d dashboard queries ran, %d with series (instances %q; no node has %q)", len(queries)*len(settings), found, instances, absent)
	}

	// promtool reads an exposition on stdin and prints one line per problem.
	for name, exposition := range map[string][]byte{"the node's /metrics": metrics, recordedGPUPath: recorded} {
		check := exec.Command("promtool", "check", "metrics")
		check.Stdin = bytes.NewReader(exposition)
		out, err := check.CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("promtool check metrics on %s: %v\n%s", name, err, out)
		}
	}
}

// varValues runs template variable name's label_values query, its own
// variables expanded, and requires at least one value.
func varValues(t *testing.T, prom string, defs map[string]string, name string, vars map[string]string) []string {
	t.Helper()
	def, ok := defs[name]
	if !ok {
		t.Fatalf("the dashboard has no template variable %q", name)
	}
	m := labelValuesRE.FindStringSubmatch(def)
	if m == nil {
		t.Fatalf("variable %s: %q is not label_values(selector, label)", name, def)
	}
	selector, unknown := expand(m[1], vars)
	if len(unknown) > 0 {
		t.Fatalf("variable %s: unknown variables %q in %q", name, unknown, def)
	}
	vals, err := labelValues(prom, selector, m[2])
	if err != nil || len(vals) == 0 {
		t.Fatalf("variable %s: label_values(%s, %s) = %q, %v; want values", name, selector, m[2], vals, err)
	}
	return vals
}

func merge(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// TestPromtoolConfig checks deploy/prometheus.yml with promtool, as it is in
// a clean checkout (the devnet's targets file absent: a warning at most) and
// beside the targets.json `miner devnet` writes, which promtool then parses.
func TestPromtoolConfig(t *testing.T) {
	needTools(t, "promtool")
	conf, err := os.ReadFile(promConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	// Run from the repository root, as `make monitor` runs Prometheus.
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	check := func(dir, config string) string {
		t.Helper()
		cmd := exec.Command("promtool", "check", "config", config)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "SUCCESS") {
			t.Fatalf("promtool check config %s: %v\n%s", config, err, out)
		}
		return string(out)
	}
	check(root, "deploy/prometheus.yml")

	// A copy in a tree of its own, with the devnet's targets where the config
	// says they are: relative to the config file's directory.
	tree := t.TempDir()
	if err := os.MkdirAll(filepath.Join(tree, "deploy"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tree, "deploy", "prometheus.yml"), conf, 0o644); err != nil {
		t.Fatal(err)
	}
	dn := devnet.Config{Nodes: 3, BasePort: 19000, Dir: filepath.Join(tree, "devnet"), Network: chain.Regtest}
	if err := os.MkdirAll(dn.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := dn.WriteTargets(dn.Nodes); err != nil {
		t.Fatal(err)
	}
	if out := check(tree, "deploy/prometheus.yml"); strings.Contains(out, "WARNING") {
		t.Errorf("promtool check config with devnet/targets.json present warns:\n%s", out)
	}
}
