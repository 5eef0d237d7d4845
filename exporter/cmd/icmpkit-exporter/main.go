// Command icmpkit-exporter probes hosts continuously with ICMP echo and exposes the results to
// Prometheus: smokeping_prober's flags, configuration file and metric families, over
// icmpkit's probe.Prober (one socket per family for every target, unprivileged when raw
// sockets are not permitted).
//
//	icmpkit-exporter [flags] [hosts...]
//
// The configuration is read again on SIGHUP and on POST /-/reload.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/icmpkit/icmpkit"
	"github.com/icmpkit/icmpkit/exporter"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/version"
)

const defaultBuckets = "5e-05,0.0001,0.0002,0.0004,0.0008,0.0016,0.0032,0.0064,0.0128,0.0256,0.0512,0.1024,0.2048,0.4096,0.8192,1.6384,3.2768,6.5536,13.1072,26.2144"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// flags are the command line's settings.
type flags struct {
	configFile, listen, path, buckets, logLevel, logFormat, mode string
	factor                                                       float64
	interval, resolveEvery, timeout                              time.Duration
	size, tos                                                    int
	privileged, showVersion                                      bool
	hosts                                                        []string
}

func parseFlags(args []string, stderr io.Writer) (*flags, error) {
	f := &flags{}
	fs := flag.NewFlagSet("icmpkit-exporter", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.configFile, "config.file", "", "Optional smokeping_prober configuration yaml file.")
	fs.StringVar(&f.listen, "web.listen-address", ":9374", "Address on which to expose metrics and web interface.")
	fs.StringVar(&f.path, "web.telemetry-path", "/metrics", "Path under which to expose metrics.")
	fs.StringVar(&f.buckets, "buckets", defaultBuckets, "A comma delimited list of buckets to use (none: native histograms only)")
	fs.Float64Var(&f.factor, "native-histogram-factor", exporter.DefaultNativeHistogramBucketFactor, "The scaling factor for native histogram buckets (negative: no native histograms)")
	for _, n := range []string{"ping.interval", "i"} {
		fs.DurationVar(&f.interval, n, time.Second, "Ping interval duration")
	}
	for _, n := range []string{"ping.size", "s"} {
		fs.IntVar(&f.size, n, 56, "Ping packet size in bytes")
	}
	for _, n := range []string{"ping.tos", "O"} {
		fs.Func(n, "Ping packet ToS field (0x00)", func(s string) error {
			v, err := strconv.ParseUint(s, 0, 8)
			if err != nil {
				return fmt.Errorf("want 0..255, got %q", s)
			}
			f.tos = int(v)
			return nil
		})
	}
	fs.BoolVar(&f.privileged, "privileged", false, "Run in privileged ICMP mode (raw sockets; the default is raw when permitted, else datagram ICMP sockets)")
	fs.StringVar(&f.mode, "icmpkit.mode", "auto", "Transport: auto, raw or dgram (--privileged means raw)")
	fs.DurationVar(&f.resolveEvery, "icmpkit.resolve-interval", time.Minute, "How often host names are resolved again")
	fs.DurationVar(&f.timeout, "icmpkit.timeout", 0, "How long a request waits for its reply (0: the group's interval)")
	fs.StringVar(&f.logLevel, "log.level", "info", "Only log messages with the given severity or above. One of: [debug, info, warn, error]")
	fs.StringVar(&f.logFormat, "log.format", "logfmt", "Output format of log messages. One of: [logfmt, json]")
	fs.BoolVar(&f.showVersion, "version", false, "Show application version.")
	// Flags may come among the hosts, as kingpin allows.
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			return nil, err
		}
		rest = fs.Args()
		if len(rest) == 0 {
			break
		}
		if rest[0] == "--" || fs.NArg() < len(rest) {
			f.hosts = append(f.hosts, rest...)
			break
		}
		f.hosts = append(f.hosts, rest[0])
		rest = rest[1:]
	}
	for _, h := range f.hosts {
		if h == "" {
			return nil, fmt.Errorf("'' is not a valid hostname")
		}
	}
	if f.size < 24 || f.size > 65535 {
		return nil, fmt.Errorf("invalid packet size %d (24-65535)", f.size)
	}
	if f.interval <= 0 {
		return nil, fmt.Errorf("--ping.interval must be positive, got %v", f.interval)
	}
	if f.timeout < 0 || f.resolveEvery <= 0 {
		return nil, fmt.Errorf("--icmpkit.timeout must not be negative and --icmpkit.resolve-interval must be positive")
	}
	return f, nil
}

func parseBuckets(s string) ([]float64, error) {
	if s == "none" {
		return []float64{}, nil // native histograms only
	}
	parts := strings.Split(s, ",")
	out := make([]float64, len(parts))
	for i, p := range parts {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return nil, fmt.Errorf("--buckets: %q is not a number", p)
		}
		if i > 0 && v <= out[i-1] {
			return nil, fmt.Errorf("--buckets: must be in increasing order, %v after %v", v, out[i-1])
		}
		out[i] = v
	}
	return out, nil
}

func newLogger(level, format string, w io.Writer) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log.level: %q is not one of debug, info, warn, error", level)
	}
	o := &slog.HandlerOptions{Level: l}
	switch format {
	case "logfmt":
		return slog.New(slog.NewTextHandler(w, o)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, o)), nil
	}
	return nil, fmt.Errorf("--log.format: %q is not one of logfmt, json", format)
}

// run is main without the exit: 0 after a clean stop, 1 when the exporter fails, 2 on bad
// usage.
func run(args []string, stdout, stderr io.Writer) int {
	f, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "icmpkit-exporter:", err)
		return 2
	}
	if f.showVersion {
		fmt.Fprintln(stdout, version.Print("icmpkit-exporter"))
		return 0
	}
	buckets, err := parseBuckets(f.buckets)
	if err != nil {
		fmt.Fprintln(stderr, "icmpkit-exporter:", err)
		return 2
	}
	log, err := newLogger(f.logLevel, f.logFormat, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "icmpkit-exporter:", err)
		return 2
	}
	mode, err := icmpkit.ParseMode(f.mode)
	if err != nil {
		fmt.Fprintln(stderr, "icmpkit-exporter: --icmpkit.mode:", err)
		return 2
	}
	if f.privileged {
		mode = icmpkit.ModePrivileged
	}
	var cfg *exporter.Config
	if f.configFile != "" {
		cfg, err = exporter.LoadConfig(f.configFile)
		if errors.Is(err, os.ErrNotExist) {
			log.Info("ignoring missing config file", "filename", f.configFile)
			cfg, err = nil, nil
		}
		if err != nil {
			fmt.Fprintln(stderr, "icmpkit-exporter:", err)
			return 2
		}
	}
	factor := f.factor
	if factor == 0 {
		factor = -1
	}

	reg := prometheus.NewRegistry()
	setVersion()
	reg.MustRegister(versioncollector.NewCollector("smokeping_prober"),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	e := exporter.New(exporter.Options{
		Mode: mode, Buckets: buckets, NativeHistogramBucketFactor: factor,
		ResolveInterval: f.resolveEvery, Timeout: f.timeout,
		Hosts: f.hosts, Interval: f.interval, Size: f.size, ToS: uint8(f.tos),
		Logger: log, Registry: reg,
	})
	if err := e.Start(cfg); err != nil {
		fmt.Fprintln(stderr, "icmpkit-exporter:", err)
		return 1
	}
	defer e.Close()

	reload := func() error { return e.Reload(f.configFile) }
	mux := http.NewServeMux()
	mux.Handle(f.path, promhttp.InstrumentMetricHandler(reg, e.Handler()))
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "Healthy")
	})
	mux.HandleFunc("/-/reload", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.WriteHeader(http.StatusMethodNotAllowed)
			io.WriteString(w, "This endpoint requires a POST request.\n")
			return
		}
		if err := reload(); err != nil {
			http.Error(w, fmt.Sprintf("Failed to reload config: %s", err), http.StatusInternalServerError)
		}
	})
	if f.path != "/" && f.path != "" {
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/" {
				http.NotFound(w, r)
				return
			}
			fmt.Fprintf(w, "<html><head><title>icmpkit-exporter</title></head><body><h1>icmpkit-exporter</h1><p><a href=%q>Metrics</a></p></body></html>\n", f.path)
		})
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		fmt.Fprintln(stderr, "icmpkit-exporter: --web.listen-address:", err)
		return 1
	}
	log.Info("listening", "address", ln.Addr().String())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGHUP, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	for {
		select {
		case err := <-done:
			log.Error("web server stopped", "err", err)
			return 1
		case s := <-sig:
			if s == syscall.SIGHUP {
				if err := reload(); err == nil {
					log.Info("reloaded config file")
				}
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			srv.Shutdown(ctx)
			cancel()
			return 0
		}
	}
}

// setVersion fills the build information smokeping_prober_build_info reports.
func setVersion() {
	version.Branch = "icmpkit"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if version.Version == "" {
			version.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && version.Revision == "" {
				version.Revision = s.Value
			}
		}
	}
}
