package exporter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	icmperrors "github.com/icmpkit/icmpkit/errors"
	"go.yaml.in/yaml/v3"
)

// Config is smokeping_prober's configuration file, plus icmpkit's file_sd_configs.
type Config struct {
	// Targets lists the probing groups.
	Targets []TargetGroup `yaml:"targets"`
}

// TargetGroup is one entry of targets: hosts probed with the same settings. Absent fields
// take smokeping_prober's defaults (DefaultTargetGroup).
type TargetGroup struct {
	// Hosts are names or addresses.
	Hosts []string `yaml:"hosts"`
	// Host is a single host, folded into Hosts when Hosts is empty.
	Host string `yaml:"host"`
	// Interval is the time between two requests to each host. Zero means 1 s.
	Interval time.Duration `yaml:"interval"`
	// Network is "ip" (IPv4 first), "ip4" or "ip6": the family names resolve to.
	Network string `yaml:"network"`
	// Protocol is "icmp" (the exporter's mode: raw when permitted, else datagram ICMP) or
	// "udp" (datagram ICMP sockets, unprivileged, always).
	Protocol string `yaml:"protocol"`
	// Size is the payload size in bytes, 24..65535 as smokeping_prober accepts.
	Size int `yaml:"size"`
	// Source is the address or interface name requests are sent from; empty lets the system
	// choose.
	Source string `yaml:"source"`
	// ToS is the IPv4 TOS byte / IPv6 traffic class.
	ToS uint8 `yaml:"tos"`
	// Labels are added to every series of the group's hosts.
	Labels map[string]string `yaml:"labels"`
	// FileSDConfigs add hosts from Prometheus file-based service discovery files.
	FileSDConfigs []FileSDConfig `yaml:"file_sd_configs"`
}

// FileSDConfig is Prometheus's file_sd_config: JSON or YAML files (a glob in the last path
// element is allowed), each a list of {targets: [...], labels: {...}}. A target written
// host:port is probed at host. The files are watched: a change is picked up within a second,
// and every RefreshInterval in any case.
type FileSDConfig struct {
	Files []string `yaml:"files"`
	// RefreshInterval is how often the files are read again even when they seem unchanged.
	// Zero means 5 minutes, as in Prometheus.
	RefreshInterval time.Duration `yaml:"refresh_interval"`
}

// DefaultTargetGroup holds smokeping_prober's defaults for a target group.
var DefaultTargetGroup = TargetGroup{
	Interval: time.Second,
	Network:  "ip",
	Protocol: "icmp",
	Size:     56,
}

// groupFields are the keys of a target group.
var groupFields = []string{"hosts", "host", "interval", "network", "protocol", "size", "source", "tos", "labels", "file_sd_configs"}

// DefaultRefreshInterval is a FileSDConfig's RefreshInterval when zero.
const DefaultRefreshInterval = 5 * time.Minute

// UnmarshalYAML fills the defaults before decoding.
func (g *TargetGroup) UnmarshalYAML(n *yaml.Node) error {
	*g = DefaultTargetGroup
	type plain TargetGroup
	if n.Kind == yaml.MappingNode {
		// Decoding through a Node is not strict: check the keys here.
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if !slices.Contains(groupFields, k) {
				return fmt.Errorf("line %d: field %s not found in a target group", n.Content[i].Line, k)
			}
		}
	}
	if err := n.Decode((*plain)(g)); err != nil {
		return err
	}
	if g.Host != "" && len(g.Hosts) == 0 {
		g.Hosts = []string{g.Host}
	}
	return nil
}

// LoadConfig reads and checks the configuration file at path.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, icmperrors.Wrap(icmperrors.ErrInvalidArgument, "read config file", err)
	}
	c, err := ParseConfig(b)
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	return c, nil
}

// ParseConfig decodes and checks a configuration. Unknown fields are errors, so that a typo
// is not silently ignored. Relative file_sd paths stay as they are.
func ParseConfig(b []byte) (*Config, error) {
	c := &Config{}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && err.Error() != "EOF" {
		return nil, icmperrors.Invalid("config", "%v", err)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Validate checks every group.
func (c *Config) Validate() error {
	for i := range c.Targets {
		if err := c.Targets[i].Validate(); err != nil {
			return fmt.Errorf("targets[%d]: %w", i, err)
		}
	}
	return nil
}

// Validate checks a group's settings.
func (g *TargetGroup) Validate() error {
	switch {
	case g.Interval <= 0:
		return icmperrors.Invalid("interval", "must be positive, got %v", g.Interval)
	case g.Size < 24 || g.Size > 65535:
		return icmperrors.Invalid("size", "packet size must be in the range 24-65535, got %d", g.Size)
	}
	if _, err := family(g.Network); err != nil {
		return err
	}
	switch g.Protocol {
	case "icmp", "udp":
	default:
		return icmperrors.Invalid("protocol", "must be icmp or udp, got %q", g.Protocol)
	}
	for _, h := range g.Hosts {
		if strings.TrimSpace(h) == "" {
			return icmperrors.Invalid("hosts", "an empty host")
		}
	}
	for k := range g.Labels {
		if err := checkLabelName(k); err != nil {
			return err
		}
	}
	for _, sd := range g.FileSDConfigs {
		if len(sd.Files) == 0 {
			return icmperrors.Invalid("file_sd_configs", "files is empty")
		}
		if sd.RefreshInterval < 0 {
			return icmperrors.Invalid("refresh_interval", "must not be negative, got %v", sd.RefreshInterval)
		}
		for _, f := range sd.Files {
			if _, err := filepath.Match(filepath.Base(f), ""); err != nil {
				return icmperrors.Invalid("file_sd_configs", "bad pattern %q: %v", f, err)
			}
		}
	}
	return nil
}

// reservedLabels are the labels every series has; a user label of that name is ignored.
var reservedLabels = []string{"ip", "host", "source", "tos"}

func checkLabelName(k string) error {
	if k == "" {
		return icmperrors.Invalid("labels", "an empty label name")
	}
	for i, r := range k {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return icmperrors.Invalid("labels", "%q is not a valid label name", k)
		}
	}
	if strings.HasPrefix(k, "__") {
		return icmperrors.Invalid("labels", "%q: names starting with __ are reserved", k)
	}
	return nil
}

// SDGroup is one entry of a file_sd file.
type SDGroup struct {
	Targets []string          `json:"targets" yaml:"targets"`
	Labels  map[string]string `json:"labels" yaml:"labels"`
}

// ParseFileSD decodes a file_sd file: JSON when name ends in .json, else YAML. Labels starting
// with __ (Prometheus's meta labels) are dropped; a target written host:port gives host.
func ParseFileSD(name string, b []byte) ([]SDGroup, error) {
	var groups []SDGroup
	var err error
	if strings.HasSuffix(name, ".json") {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		err = dec.Decode(&groups)
	} else {
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		err = dec.Decode(&groups)
		if err != nil && err.Error() == "EOF" {
			err = nil
		}
	}
	if err != nil {
		return nil, icmperrors.Invalid("file_sd", "%s: %v", name, err)
	}
	for gi := range groups {
		g := &groups[gi]
		for k := range g.Labels {
			if strings.HasPrefix(k, "__") {
				delete(g.Labels, k)
				continue
			}
			if err := checkLabelName(k); err != nil {
				return nil, fmt.Errorf("file_sd %s: %w", name, err)
			}
		}
		for i, t := range g.Targets {
			h := stripPort(strings.TrimSpace(t))
			if h == "" {
				return nil, icmperrors.Invalid("file_sd", "%s: an empty target", name)
			}
			g.Targets[i] = h
		}
	}
	return groups, nil
}

// stripPort turns "host:port" and "[v6]:port" into the host; anything else stays.
func stripPort(t string) string {
	if _, err := netip.ParseAddr(t); err == nil {
		return t
	}
	if h, _, err := net.SplitHostPort(t); err == nil {
		return h
	}
	return strings.TrimSuffix(strings.TrimPrefix(t, "["), "]")
}

// expandFiles gives the files a FileSDConfig names now, sorted.
func expandFiles(patterns []string) []string {
	var out []string
	for _, p := range patterns {
		m, err := filepath.Glob(p)
		if err != nil || len(m) == 0 {
			if !strings.ContainsAny(filepath.Base(p), "*?[") {
				out = append(out, p) // a plain name that does not exist: reported when read
			}
			continue
		}
		out = append(out, m...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
