package exporter

import (
	"context"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/icmpkit/icmpkit"
	icmperrors "github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/result"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/prometheus/client_golang/prometheus"
)

// Options configures an Exporter. The zero value gives smokeping_prober's defaults, in
// icmpkit's auto mode.
type Options struct {
	// Mode is the transport of groups whose protocol is icmp: ModeAuto (the zero value) opens
	// a raw socket when permitted, else a datagram ICMP socket; ModePrivileged forces raw.
	Mode icmpkit.Mode
	// Buckets are the classic histogram buckets. Nil means DefaultBuckets.
	Buckets []float64
	// NativeHistogramBucketFactor is the growth factor of native histogram buckets, served
	// to scrapers that ask for them. Zero means 1.05; a negative value turns native
	// histograms off.
	NativeHistogramBucketFactor float64
	// ResolveInterval is how often names are resolved again. Zero means one minute.
	ResolveInterval time.Duration
	// Timeout is how long a request waits for its reply. Zero means the group's interval.
	Timeout time.Duration
	// Hosts are probed in a group of their own with Interval, Size and ToS (the command
	// line's hosts), besides those of the configuration.
	Hosts    []string
	Interval time.Duration // zero: 1 s
	Size     int           // zero: 56
	ToS      uint8

	// Open opens a transport. Nil means icmpkit.Open. Tests pass a mock network's.
	Open func(mode icmpkit.Mode, cfg icmpkit.Config) (transport.Transport, error)
	// Resolve turns a name into an address. Nil means icmpkit.Resolve.
	Resolve func(ctx context.Context, host string, family icmpkit.Family) (netip.Addr, error)
	// Logger receives what happens. Nil means no logging.
	Logger *slog.Logger
	// Registry receives the exporter's metrics but the per-target families, which the
	// Exporter keeps in a registry of its own (see Gatherer and Handler). Nil means a new
	// private registry.
	Registry *prometheus.Registry
}

// An Exporter probes the configured targets continuously and exposes smokeping_prober's
// metric families. Every target of a transport (one per mode, source and family) shares one
// probe.Prober; each group of targets with the same settings is probed once an interval by
// one streaming multiping, its requests spread evenly over the interval.
type Exporter struct {
	opts Options
	log  *slog.Logger
	reg  *prometheus.Registry

	reloadOK      prometheus.Gauge
	reloadTime    prometheus.Gauge
	recvErrors    prometheus.Counter
	proberErrors  prometheus.Counter
	targetsGauge  prometheus.Gauge
	unresolved    prometheus.Gauge
	resolveErrors *prometheus.CounterVec
	sdErrors      *prometheus.CounterVec
	skipped       prometheus.Counter
	transportInfo *prometheus.GaugeVec
	swap          *swapCollector
	treg          *prometheus.Registry // the swap collector alone

	mu         sync.Mutex // serializes reloads, rebuilds and Close
	closed     bool
	cfg        *Config
	vecs       *targetVecs
	live       map[string]*handles // by label values
	runners    map[groupKey]*runner
	transports map[transportKey]*tport
	names      map[nameKey]*resolved
	sd         map[string]sdFile // last good content of each file_sd file

	ctx    context.Context
	cancel context.CancelFunc
	bg     sync.WaitGroup
}

type nameKey struct {
	host   string
	family icmpkit.Family
}

type resolved struct {
	addr netip.Addr
	err  error
}

type sdFile struct {
	groups []SDGroup
	size   int64
	mtime  time.Time
}

// New makes an Exporter; Start begins probing.
func New(opts Options) *Exporter {
	if opts.Buckets == nil {
		opts.Buckets = DefaultBuckets
	}
	switch {
	case opts.NativeHistogramBucketFactor == 0:
		opts.NativeHistogramBucketFactor = DefaultNativeHistogramBucketFactor
	case opts.NativeHistogramBucketFactor < 0:
		opts.NativeHistogramBucketFactor = 0
	}
	if opts.ResolveInterval == 0 {
		opts.ResolveInterval = time.Minute
	}
	if opts.Interval == 0 {
		opts.Interval = time.Second
	}
	if opts.Size == 0 {
		opts.Size = 56
	}
	if opts.Open == nil {
		opts.Open = icmpkit.Open
	}
	if opts.Resolve == nil {
		opts.Resolve = icmpkit.Resolve
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	e := &Exporter{
		opts: opts, log: log, reg: opts.Registry,
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "smokeping_prober_config_last_reload_successful",
			Help: "smokeping_prober config loaded successfully.",
		}),
		reloadTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "smokeping_prober_config_last_reload_success_timestamp_seconds",
			Help: "Timestamp of the last successful configuration reload.",
		}),
		recvErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "smokeping_receive_errors_total",
			Help: "The number of errors when Pinger attempts to receive packets.",
		}),
		proberErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "smokeping_prober_errors_total",
			Help: "The number of probers that returned an error.",
		}),
		targetsGauge: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "icmpkit_targets",
			Help: "Targets configured (hosts of the configuration, the command line and file_sd files).",
		}),
		unresolved: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "icmpkit_targets_unresolved",
			Help: "Configured targets whose name does not resolve at the moment; they are not probed and are retried.",
		}),
		resolveErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "icmpkit_resolve_errors_total",
			Help: "Failed name lookups of a configured host.",
		}, []string{"host"}),
		sdErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "icmpkit_file_sd_errors_total",
			Help: "Failed reads of a file_sd file; its last good content stays in use.",
		}, []string{"file"}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "icmpkit_cycles_skipped_total",
			Help: "Probing cycles not started because three earlier cycles of the group were still running.",
		}),
		transportInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "icmpkit_transport_info",
			Help: "The transports open: mode raw or dgram, and the source they send from.",
		}, []string{"mode", "source"}),
		swap:       &swapCollector{},
		live:       map[string]*handles{},
		runners:    map[groupKey]*runner{},
		transports: map[transportKey]*tport{},
		names:      map[nameKey]*resolved{},
		sd:         map[string]sdFile{},
	}
	e.reg.MustRegister(e.reloadOK, e.reloadTime, e.recvErrors, e.proberErrors, e.targetsGauge, e.unresolved,
		e.resolveErrors, e.sdErrors, e.skipped, e.transportInfo)
	e.treg = prometheus.NewRegistry()
	e.treg.MustRegister(e.swap)
	e.ctx, e.cancel = context.WithCancel(context.Background())
	return e
}

// Gatherer gives every metric of the exporter: Options.Registry's, and the per-target
// families, which live in a registry of their own.
func (e *Exporter) Gatherer() prometheus.Gatherer { return prometheus.Gatherers{e.reg, e.treg} }

// Start applies cfg (nil: no configuration file, the Options' hosts alone) and starts the
// background work: probing, resolving names again, watching file_sd files. It fails, and
// nothing is started, when there is no target at all or a transport cannot be opened.
func (e *Exporter) Start(cfg *Config) error {
	if cfg == nil {
		cfg = &Config{}
	}
	if err := e.Apply(cfg); err != nil {
		return err
	}
	e.bg.Add(2)
	go e.resolveLoop()
	go e.watchLoop()
	return nil
}

// Apply makes cfg the configuration in force. When it fails (an invalid configuration, no
// target, a transport that cannot be opened) the last good configuration stays in force and
// smokeping_prober_config_last_reload_successful is 0.
func (e *Exporter) Apply(cfg *Config) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	err := e.apply(cfg, true)
	if err != nil {
		e.reloadOK.Set(0)
		e.log.Error("configuration not applied, the last good one stays", "err", err)
		return err
	}
	e.reloadOK.Set(1)
	e.reloadTime.SetToCurrentTime()
	return nil
}

// Reload reads the configuration file at path and applies it.
func (e *Exporter) Reload(path string) error {
	cfg := &Config{}
	if path != "" {
		c, err := LoadConfig(path)
		switch {
		case err == nil:
			cfg = c
		case os.IsNotExist(err) || icmperrors.Is(err, os.ErrNotExist):
			e.log.Info("ignoring missing config file", "filename", path)
		default:
			e.mu.Lock()
			e.reloadOK.Set(0)
			e.mu.Unlock()
			e.log.Error("error reloading config", "err", err)
			return err
		}
	}
	return e.Apply(cfg)
}

// Close stops probing and closes the transports. Safe to call twice.
func (e *Exporter) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	e.cancel()
	for k, r := range e.runners {
		r.stop()
		delete(e.runners, k)
	}
	var err error
	for k, t := range e.transports {
		err = icmperrors.Join(err, t.close())
		delete(e.transports, k)
	}
	e.mu.Unlock()
	e.bg.Wait()
	return err
}

// hostSpec is one configured target before resolution.
type hostSpec struct {
	host   string
	key    groupKey
	family icmpkit.Family
	labels map[string]string
}

// groupKey is what a runner's targets share.
type groupKey struct {
	transport transportKey
	interval  time.Duration
	size      int
	tos       uint8
}

// transportKey names a transport: its mode and source.
type transportKey struct {
	mode   icmpkit.Mode
	source string
}

func family(network string) (icmpkit.Family, error) {
	switch network {
	case "ip", "":
		return icmpkit.FamilyAny, nil
	case "ip4":
		return icmpkit.IPv4, nil
	case "ip6":
		return icmpkit.IPv6, nil
	}
	return 0, icmperrors.Invalid("network", "must be ip, ip4 or ip6, got %q", network)
}

// specs expands a configuration into its targets, file_sd files included (read now when
// readSD, else taken from what was last read).
func (e *Exporter) specs(cfg *Config, readSD bool) ([]hostSpec, error) {
	var out []hostSpec
	add := func(g *TargetGroup, hosts []string, extra map[string]string) error {
		fam, err := family(g.Network)
		if err != nil {
			return err
		}
		mode := e.opts.Mode
		if g.Protocol == "udp" {
			mode = icmpkit.ModeUnprivileged
		}
		key := groupKey{transport: transportKey{mode: mode, source: g.Source}, interval: g.Interval, size: g.Size, tos: g.ToS}
		labels := g.Labels
		if len(extra) > 0 {
			labels = make(map[string]string, len(g.Labels)+len(extra))
			for k, v := range extra {
				labels[k] = v
			}
			for k, v := range g.Labels { // the configuration's labels win, as relabelling would
				labels[k] = v
			}
		}
		for _, h := range hosts {
			out = append(out, hostSpec{host: h, key: key, family: fam, labels: labels})
		}
		return nil
	}
	if len(e.opts.Hosts) > 0 {
		g := DefaultTargetGroup
		g.Interval, g.Size, g.ToS = e.opts.Interval, e.opts.Size, e.opts.ToS
		if err := g.Validate(); err != nil {
			return nil, err
		}
		if err := add(&g, e.opts.Hosts, nil); err != nil {
			return nil, err
		}
	}
	for i := range cfg.Targets {
		g := &cfg.Targets[i]
		if err := add(g, g.Hosts, nil); err != nil {
			return nil, err
		}
		for _, sd := range g.FileSDConfigs {
			for _, f := range expandFiles(sd.Files) {
				groups := e.readSD(f, readSD)
				for _, sg := range groups {
					if err := add(g, sg.Targets, sg.Labels); err != nil {
						return nil, err
					}
				}
			}
		}
	}
	return out, nil
}

// readSD gives a file_sd file's groups: read again when force or when it changed, else the
// last good content. A file that cannot be read or parsed is counted and keeps its last good
// content.
func (e *Exporter) readSD(name string, force bool) []SDGroup {
	old, had := e.sd[name]
	st, err := os.Stat(name)
	if err == nil && had && !force && st.Size() == old.size && st.ModTime().Equal(old.mtime) {
		return old.groups
	}
	var groups []SDGroup
	if err == nil {
		var b []byte
		b, err = os.ReadFile(name)
		if err == nil {
			groups, err = ParseFileSD(name, b)
		}
	}
	if err != nil {
		e.sdErrors.WithLabelValues(name).Inc()
		e.log.Warn("file_sd file not read, its last good content stays", "file", name, "err", err)
		if had && st != nil {
			// Remember the failed version so that it is not read again every second.
			old.size, old.mtime = st.Size(), st.ModTime()
			e.sd[name] = old
		}
		return old.groups
	}
	e.sd[name] = sdFile{groups: groups, size: st.Size(), mtime: st.ModTime()}
	return groups
}

// apply builds the runners for cfg and swaps them in. Called with e.mu held.
func (e *Exporter) apply(cfg *Config, readSD bool) error {
	if e.closed {
		return icmperrors.Wrap(icmperrors.ErrUnavailable, "apply configuration", fmt.Errorf("the exporter is closed"))
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	specs, err := e.specs(cfg, readSD)
	if err != nil {
		return err
	}
	if len(specs) == 0 {
		return icmperrors.Invalid("targets", "no targets specified on command line or in config file")
	}
	e.resolveNew(specs)

	// Label names: the union over every target.
	extra := map[string]struct{}{}
	for _, s := range specs {
		for k := range s.labels {
			extra[k] = struct{}{}
		}
	}
	names := labelNames(extra)
	vecs := e.vecs
	if vecs == nil || !slices.Equal(vecs.names, names) {
		vecs = newTargetVecs(names, e.opts.Buckets, e.opts.NativeHistogramBucketFactor)
	}

	// Transports first: a configuration whose transport cannot be opened is not applied.
	opened := map[transportKey]*tport{}
	for _, s := range specs {
		k := s.key.transport
		if _, ok := e.transports[k]; ok {
			continue
		}
		if _, ok := opened[k]; ok {
			continue
		}
		t, err := e.openTransport(k)
		if err != nil {
			for _, t := range opened {
				t.close()
			}
			return err
		}
		opened[k] = t
	}
	for k, t := range opened {
		e.transports[k] = t
		e.transportInfo.WithLabelValues(t.mode, k.source).Set(1)
	}

	// Plans: per group, one entry per distinct address, each with the series of the targets
	// that resolved to it.
	plans := map[groupKey]*plan{}
	live := map[string]*handles{}
	unresolved := 0
	for _, s := range specs {
		r := e.names[nameKey{s.host, s.family}]
		if r == nil || r.err != nil {
			unresolved++
			continue
		}
		values := make([]string, len(names))
		values[0], values[1], values[2], values[3] = r.addr.String(), s.host, s.key.transport.source, strconv.Itoa(int(s.key.tos))
		for i, n := range names[4:] {
			values[4+i] = s.labels[n]
		}
		h := e.live[strings.Join(values, "\xff")]
		if h == nil || h.vecs != vecs {
			h = vecs.handles(values)
		}
		if _, dup := live[h.key]; dup {
			continue // the same host twice with the same labels: one series
		}
		live[h.key] = h
		p := plans[s.key]
		if p == nil {
			p = &plan{index: map[netip.Addr]int{}}
			plans[s.key] = p
		}
		i, ok := p.index[r.addr]
		if !ok {
			i = len(p.addrs)
			p.index[r.addr] = i
			p.addrs = append(p.addrs, r.addr)
			p.targets = append(p.targets, nil)
		}
		p.targets[i] = append(p.targets[i], h)
	}

	// Swap: update or start the runners, stop those no longer configured, close the
	// transports no runner uses.
	for k, p := range plans {
		if r, ok := e.runners[k]; ok {
			r.plan.Store(p)
			continue
		}
		r := e.newRunner(k, e.transports[k.transport], p)
		e.runners[k] = r
		r.start()
	}
	for k, r := range e.runners {
		if _, ok := plans[k]; !ok {
			r.stop()
			delete(e.runners, k)
		}
	}
	used := map[transportKey]bool{}
	for k := range e.runners {
		used[k.transport] = true
	}
	for k, t := range e.transports {
		if !used[k] {
			t.close()
			e.transportInfo.DeleteLabelValues(t.mode, k.source)
			delete(e.transports, k)
		}
	}
	if vecs != e.vecs {
		e.swap.set(vecs)
	} else {
		for k, h := range e.live {
			if _, ok := live[k]; !ok {
				vecs.delete(h.values)
			}
		}
	}
	e.vecs, e.live, e.cfg = vecs, live, cfg
	e.targetsGauge.Set(float64(len(specs)))
	e.unresolved.Set(float64(unresolved))
	return nil
}

// resolveNew resolves the names not resolved before (addresses are parsed, not looked up).
func (e *Exporter) resolveNew(specs []hostSpec) {
	var todo []nameKey
	seen := map[nameKey]bool{}
	for _, s := range specs {
		k := nameKey{s.host, s.family}
		if e.names[k] != nil || seen[k] {
			continue
		}
		seen[k] = true
		todo = append(todo, k)
	}
	for k, r := range e.resolveAll(todo) {
		e.names[k] = r
	}
	// Forget the names no longer configured.
	for k := range e.names {
		if !seen[k] {
			still := false
			for _, s := range specs {
				if s.host == k.host && s.family == k.family {
					still = true
					break
				}
			}
			if !still {
				delete(e.names, k)
			}
		}
	}
}

// resolveAll resolves keys, 16 lookups at a time; literals are parsed in place.
func (e *Exporter) resolveAll(keys []nameKey) map[nameKey]*resolved {
	out := make(map[nameKey]*resolved, len(keys))
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for _, k := range keys {
		if a, err := netip.ParseAddr(k.host); err == nil {
			out[k] = &resolved{addr: a.Unmap()}
			if (k.family == icmpkit.IPv4 && !a.Unmap().Is4()) || (k.family == icmpkit.IPv6 && !a.Is6()) {
				out[k] = &resolved{err: icmperrors.Invalid("host", "%s is not an address of network %s", k.host, k.family)}
				e.resolveErrors.WithLabelValues(k.host).Inc()
			}
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
			a, err := e.opts.Resolve(ctx, k.host, k.family)
			cancel()
			if err != nil {
				e.resolveErrors.WithLabelValues(k.host).Inc()
				e.log.Warn("name lookup failed; the target is retried", "host", k.host, "err", err)
			}
			mu.Lock()
			out[k] = &resolved{addr: a.Unmap(), err: err}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// resolveLoop resolves every name again each ResolveInterval and applies what changed.
func (e *Exporter) resolveLoop() {
	defer e.bg.Done()
	t := time.NewTicker(e.opts.ResolveInterval)
	defer t.Stop()
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-t.C:
		}
		e.mu.Lock()
		var keys []nameKey
		for k := range e.names {
			if _, err := netip.ParseAddr(k.host); err != nil {
				keys = append(keys, k)
			}
		}
		e.mu.Unlock()
		if len(keys) == 0 {
			continue
		}
		fresh := e.resolveAll(keys)
		e.mu.Lock()
		changed := false
		for k, r := range fresh {
			old, ok := e.names[k]
			if !ok {
				continue
			}
			if r.err != nil && old.err == nil {
				// Keep probing the address last resolved; the failure is counted.
				continue
			}
			if old.err != nil || old.addr != r.addr {
				e.names[k] = r
				changed = true
			}
		}
		if changed && !e.closed && e.cfg != nil {
			if err := e.apply(e.cfg, false); err != nil {
				e.log.Error("targets not updated after name resolution", "err", err)
			}
		}
		e.mu.Unlock()
	}
}

// watchLoop checks file_sd files every second, and reads them all every RefreshInterval.
func (e *Exporter) watchLoop() {
	defer e.bg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	last := map[string]time.Time{}
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-t.C:
		}
		e.mu.Lock()
		if e.closed || e.cfg == nil {
			e.mu.Unlock()
			continue
		}
		changed, force := false, false
		now := time.Now()
		for i := range e.cfg.Targets {
			for _, sd := range e.cfg.Targets[i].FileSDConfigs {
				refresh := sd.RefreshInterval
				if refresh == 0 {
					refresh = DefaultRefreshInterval
				}
				files := expandFiles(sd.Files)
				for _, f := range files {
					lt, ok := last[f]
					if !ok {
						last[f] = now
					} else if now.Sub(lt) >= refresh {
						force = true
						last[f] = now
					}
					old, had := e.sd[f]
					st, err := os.Stat(f)
					switch {
					case err != nil && had && old.groups != nil:
						changed = true // removed
					case err == nil && (!had || st.Size() != old.size || !st.ModTime().Equal(old.mtime)):
						changed = true
					}
				}
				// A file that matched the glob before and no longer does.
				for f, c := range e.sd {
					if c.groups != nil && !slices.Contains(files, f) && matchesAny(sd.Files, f) {
						changed = true
					}
				}
			}
		}
		if changed || force {
			for f := range e.sd {
				if _, err := os.Stat(f); err != nil {
					delete(e.sd, f)
				}
			}
			if err := e.apply(e.cfg, force); err != nil {
				e.log.Error("targets not updated from file_sd", "err", err)
			}
		}
		e.mu.Unlock()
	}
}

func matchesAny(patterns []string, f string) bool {
	for _, p := range patterns {
		if ok, _ := pathMatch(p, f); ok {
			return true
		}
	}
	return false
}

// plan is what one cycle of a runner probes: distinct addresses, and the series of the
// targets at each.
type plan struct {
	addrs   []netip.Addr
	targets [][]*handles
	index   map[netip.Addr]int
}

// multipinger is what a runner needs of a Prober.
type multipinger interface {
	MultipingSeq(ctx context.Context, targets iter.Seq[netip.Addr], opts *probe.MultipingOptions) iter.Seq2[*result.Host, error]
}

// tport is an open transport and the Prober over it.
type tport struct {
	t    transport.Transport
	p    multipinger
	mode string
	stop func() error
}

func (t *tport) close() error { return t.stop() }

func (e *Exporter) openTransport(k transportKey) (*tport, error) {
	cfg := icmpkit.Config{}
	if k.source != "" {
		if a, err := netip.ParseAddr(k.source); err == nil {
			cfg.Source = a.Unmap()
		} else {
			cfg.Interface = k.source
		}
	}
	t, err := e.opts.Open(k.mode, cfg)
	if err != nil {
		return nil, err
	}
	mode := "raw"
	if icmpkit.ModeOf(t) == icmpkit.ModeUnprivileged {
		mode = "dgram"
	}
	e.log.Info("transport open", "mode", mode, "source", k.source)
	p, closeProber := newProber(t)
	return &tport{t: t, p: p, mode: mode, stop: func() error {
		return icmperrors.Join(closeProber(), t.Close())
	}}, nil
}

// runner probes one group: each interval, a cycle sends one request to every address of the
// plan, paced evenly over the interval. A cycle then waits up to the timeout for its last
// replies, so it lasts up to two intervals and cycles overlap; a fourth is not started while
// three still run (icmpkit_cycles_skipped_total counts it).
type runner struct {
	e      *Exporter
	key    groupKey
	tp     *tport
	plan   atomic.Pointer[plan]
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	slots  chan struct{}
}

func (e *Exporter) newRunner(k groupKey, tp *tport, p *plan) *runner {
	r := &runner{e: e, key: k, tp: tp, slots: make(chan struct{}, 3)}
	r.plan.Store(p)
	r.ctx, r.cancel = context.WithCancel(e.ctx)
	return r
}

func (r *runner) start() {
	r.wg.Add(1)
	go r.loop()
}

func (r *runner) stop() {
	r.cancel()
	r.wg.Wait()
}

func (r *runner) loop() {
	defer r.wg.Done()
	next := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-timer.C:
		}
		p := r.plan.Load()
		select {
		case r.slots <- struct{}{}:
			r.wg.Add(1)
			go func() {
				defer r.wg.Done()
				defer func() { <-r.slots }()
				r.cycle(p)
			}()
		default:
			r.e.skipped.Inc()
		}
		next = next.Add(r.key.interval)
		if d := time.Until(next); d > 0 {
			timer.Reset(d)
		} else {
			// Late (the process was stopped, or the machine is overloaded): start again from now.
			next = time.Now()
			timer.Reset(0)
		}
	}
}

// cycle probes every address of p once.
func (r *runner) cycle(p *plan) {
	n := len(p.addrs)
	if n == 0 {
		return
	}
	timeout := r.e.opts.Timeout
	if timeout == 0 {
		timeout = r.key.interval
	}
	seen := make([]uint64, (n+63)/64)
	opts := &probe.MultipingOptions{
		Count:           1,
		Timeout:         timeout,
		PayloadSize:     r.key.size,
		TrafficClass:    int(r.key.tos),
		Rate:            float64(n) / r.key.interval.Seconds(),
		Window:          n,
		DropRTTs:        true,
		Unordered:       true,
		AwaitDuplicates: true,
		OnReply: func(o probe.Outcome) {
			i := int(o.Index)
			if i < 0 || i >= n {
				return
			}
			targets := p.targets[i]
			if o.Duplicate {
				for _, h := range targets {
					h.dups.Add(1)
				}
				return
			}
			// Every request has one outcome besides its copies: the request counts when its
			// fate is known, together with its answer, so that requests and answers agree.
			for _, h := range targets {
				h.requests.Add(1)
			}
			switch {
			case o.SendError != nil:
				for _, h := range targets {
					h.sendErrs.Add(1)
				}
			case o.TimedOut:
			case o.Reply.Kind() == transport.KindEchoReply:
				rtt := o.RTT.Seconds()
				for _, h := range targets {
					h.observe(rtt)
					if o.Reply.TTL > 0 {
						h.setTTL(o.Reply.TTL)
					}
				}
			default:
				typ, code := o.Reply.TypeCode()
				for _, h := range targets {
					h.icmpError(typ, code)
				}
			}
			seen[i/64] |= 1 << (i % 64)
		},
	}
	for h, err := range r.tp.p.MultipingSeq(r.ctx, slices.Values(p.addrs), opts) {
		if err != nil {
			if r.ctx.Err() == nil {
				r.e.recvErrors.Inc()
				r.e.proberErrors.Inc()
				r.e.log.Warn("probing cycle failed", "err", err)
			}
			return
		}
		i, ok := p.index[h.Address]
		if !ok || h.PacketsSent == 0 {
			continue
		}
		if seen[i/64]&(1<<(i%64)) != 0 || r.ctx.Err() != nil {
			continue // counted at its outcome, or stopped before its outcome was known
		}
		for _, t := range p.targets[i] {
			// Sent, yet with no outcome: it did not leave.
			t.requests.Add(uint64(h.PacketsSent))
			t.sendErrs.Add(1)
		}
	}
}
