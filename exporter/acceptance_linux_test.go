package exporter

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/icmpkit/icmpkit/internal/lab"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// EnvAcceptance runs TestPrometheusAcceptance when set to 1 (.ci/run sets it): it takes
// about a minute and needs Debian's prometheus.
const EnvAcceptance = "ICMPKIT_EXPORTER_ACCEPTANCE"

// TestPrometheusAcceptance is the deployment of the README run for real: two vantage points
// (exporters in the client and r1 namespaces of a chain client—r1—r2—target), one Prometheus
// scraping both every second, and the target dropping 30% of the echo requests. Everything is
// checked through Prometheus's HTTP API.
func TestPrometheusAcceptance(t *testing.T) {
	if os.Getenv(EnvAcceptance) != "1" {
		t.Skipf("set %s=1 to run Prometheus against two exporters in a lab", EnvAcceptance)
	}
	lab.Require(t)
	promBin, err := exec.LookPath("prometheus")
	require.NoError(t, err, "Debian's prometheus package")
	dir := t.TempDir()
	bin := os.Getenv("ICMPKIT_EXPORTER_BIN")
	if bin == "" {
		bin = filepath.Join(dir, "icmpkit-exporter")
		out, err := exec.Command("go", "build", "-o", bin, "./cmd/icmpkit-exporter").CombinedOutput()
		require.NoError(t, err, "%s", out)
	}

	c := lab.NewChain(t, lab.ChainConfig{Routers: 2, TargetLoss: 30})
	client, r1, r2, target := c.Client, c.Router(1), c.Router(2), c.Target
	// The lossy target at 20 requests a second, so that 30 s hold 600 of them per vantage
	// point; r2 at 1 a second.
	config := func(extra string) string {
		return fmt.Sprintf(`targets:
- hosts: [%s, "%s"]
  interval: 50ms
  labels: {role: lossy}
- hosts: [%s%s]
  interval: 1s
  labels: {role: router}
`, target.V4, target.V6, r2.V4, extra)
	}
	cfgA := filepath.Join(dir, "a.yml")
	cfgB := filepath.Join(dir, "b.yml")
	require.NoError(t, os.WriteFile(cfgA, []byte(config("")), 0o644))
	require.NoError(t, os.WriteFile(cfgB, []byte(config("")), 0o644))
	expA, err := c.Start(client.NS, bin, "--config.file="+cfgA, "--web.listen-address=127.0.0.1:9374")
	require.NoError(t, err)
	expB, err := c.Start(r1.NS, bin, "--config.file="+cfgB, "--web.listen-address="+r1.V4.String()+":9374")
	require.NoError(t, err)
	promCfg := filepath.Join(dir, "prometheus.yml")
	require.NoError(t, os.WriteFile(promCfg, []byte(fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
  external_labels: {site: lab}
scrape_configs:
- job_name: icmp
  static_configs:
  - targets: ["127.0.0.1:9374"]
    labels: {vantage: client}
  - targets: ["%s:9374"]
    labels: {vantage: r1}
`, r1.V4)), 0o644))
	prom, err := c.Start(client.NS, promBin, "--config.file="+promCfg, "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address=127.0.0.1:9090", "--log.level=warn")
	require.NoError(t, err)
	defer func() {
		if t.Failed() {
			for name, p := range map[string]*lab.Proc{"exporter client": expA, "exporter r1": expB, "prometheus": prom} {
				out, _ := p.Stop()
				t.Logf("%s:\n%s", name, out)
			}
		}
	}()

	query := func(q string) []promSample {
		t.Helper()
		out, err := c.Exec(client.NS, "curl", "-sf", "--get", "--data-urlencode", "query="+q, "http://127.0.0.1:9090/api/v1/query")
		require.NoError(t, err, "%s: %s", q, out)
		var r struct {
			Status string `json:"status"`
			Data   struct {
				Result []struct {
					Metric map[string]string `json:"metric"`
					Value  [2]any            `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &r), out)
		require.Equal(t, "success", r.Status, out)
		var s []promSample
		for _, x := range r.Data.Result {
			v, err := strconv.ParseFloat(x.Value[1].(string), 64)
			require.NoError(t, err)
			s = append(s, promSample{x.Metric, v})
		}
		return s
	}
	waitFor := func(what string, limit time.Duration, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(limit)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within %v", what, limit)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	waitFor("Prometheus ready", 30*time.Second, func() bool {
		_, err := c.Exec(client.NS, "curl", "-sf", "http://127.0.0.1:9090/-/ready")
		return err == nil
	})
	waitFor("both exporters up", 30*time.Second, func() bool {
		up := query(`up == 1`)
		return len(up) == 2
	})
	// 35 s of data for 30 s windows.
	time.Sleep(35 * time.Second)

	byVantage := func(s []promSample) map[string]float64 {
		m := map[string]float64{}
		for _, x := range s {
			m[x.Metric["vantage"]+" "+x.Metric["ip"]] = x.Value
		}
		return m
	}
	up := query(`up`)
	require.Len(t, up, 2)
	for _, s := range up {
		assert.Equal(t, 1.0, s.Value, "up%v", s.Metric)
	}

	rates := byVantage(query(`rate(smokeping_requests_total[30s])`))
	t.Logf("requests per second: %v", rates)
	for _, v := range []string{"client", "r1"} {
		assert.InDelta(t, 20, rates[v+" "+target.V4.String()], 1, "%s → lossy target, IPv4", v)
		assert.InDelta(t, 20, rates[v+" "+target.V6.String()], 1, "%s → lossy target, IPv6", v)
		assert.InDelta(t, 1, rates[v+" "+r2.V4.String()], 0.2, "%s → r2", v)
	}

	loss := byVantage(query(`1 - rate(smokeping_response_duration_seconds_count[30s]) / rate(smokeping_requests_total[30s])`))
	t.Logf("loss ratio: %v", loss)
	for _, v := range []string{"client", "r1"} {
		assert.InDelta(t, 0.3, loss[v+" "+target.V4.String()], 0.1, "%s → lossy target, IPv4", v)
		assert.InDelta(t, 0.3, loss[v+" "+target.V6.String()], 0.1, "%s → lossy target, IPv6", v)
		assert.InDelta(t, 0, loss[v+" "+r2.V4.String()], 0.05, "%s → r2", v)
	}

	q90 := query(`histogram_quantile(0.9, rate(smokeping_response_duration_seconds_bucket[30s]))`)
	t.Logf("90th percentile RTT: %v", byVantage(q90))
	assert.Len(t, q90, 6, "two vantage points × three targets")
	for _, s := range q90 {
		assert.True(t, s.Value > 0 && s.Value < 0.1, "a 90th percentile RTT in (0, 100 ms): %v %v", s.Metric, s.Value)
	}

	// The vantage points are told apart by label, and by what they see: the target is one hop
	// nearer to r1 than to the client.
	ttl := byVantage(query(`smokeping_response_ttl`))
	t.Logf("TTL: %v", ttl)
	assert.Equal(t, 62.0, ttl["client "+target.V4.String()])
	assert.Equal(t, 63.0, ttl["r1 "+target.V4.String()])
	assert.Equal(t, 63.0, ttl["client "+r2.V4.String()])
	assert.Equal(t, 64.0, ttl["r1 "+r2.V4.String()])

	// Reload: a target added to the configuration appears within two intervals; a broken
	// configuration keeps the last good one and reports it.
	require.NoError(t, os.WriteFile(cfgA, []byte(config(", "+r1.V4.String())), 0o644))
	out, err := c.Exec(client.NS, "curl", "-sf", "-X", "POST", "http://127.0.0.1:9374/-/reload")
	require.NoError(t, err, out)
	reloaded := time.Now()
	waitFor("the added target in Prometheus", 10*time.Second, func() bool {
		return len(query(fmt.Sprintf(`smokeping_requests_total{vantage="client",ip="%s"} > 0`, r1.V4))) == 1
	})
	t.Logf("added target seen in Prometheus %v after the reload", time.Since(reloaded).Round(100*time.Millisecond))
	require.NoError(t, os.WriteFile(cfgA, []byte("targets: [{hosts: [x], network: ipx}]"), 0o644))
	out, _ = c.Exec(client.NS, "curl", "-s", "-w", "%{http_code}", "-X", "POST", "http://127.0.0.1:9374/-/reload")
	assert.True(t, strings.HasSuffix(out, "500"), "a broken configuration: %s", out)
	waitFor("config_last_reload_successful 0", 10*time.Second, func() bool {
		return len(query(`smokeping_prober_config_last_reload_successful{vantage="client"} == 0`)) == 1
	})
	before := query(fmt.Sprintf(`smokeping_requests_total{vantage="client",ip="%s"}`, r1.V4))
	require.Len(t, before, 1)
	time.Sleep(3 * time.Second)
	after := query(fmt.Sprintf(`smokeping_requests_total{vantage="client",ip="%s"}`, r1.V4))
	require.Len(t, after, 1)
	assert.Greater(t, after[0].Value, before[0].Value, "the last good configuration is still probed")
	assert.False(t, math.IsNaN(after[0].Value))
}

type promSample struct {
	Metric map[string]string
	Value  float64
}
