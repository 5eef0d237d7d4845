package exporter

import (
	"testing"

	icmperrors "github.com/icmpkit/icmpkit/errors"
)

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("targets:\n- hosts: [host1, 198.18.0.1]\n  interval: 2s\n  network: ip6\n  labels: {zone: a}\n"))
	f.Add([]byte("targets: [{host: a, file_sd_configs: [{files: [x.json], refresh_interval: 1m}]}]"))
	f.Add([]byte("targets: [{hosts: [a], size: 8}]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfig(b)
		if err != nil {
			if !icmperrors.Is(err, icmperrors.ErrInvalidArgument) {
				t.Fatalf("error of the wrong class: %v", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("a parsed configuration does not validate: %v", err)
		}
	})
}

func FuzzParseFileSD(f *testing.F) {
	f.Add("a.json", []byte(`[{"targets": ["198.18.0.1:9100", "[2001:db8::1]:80"], "labels": {"job": "x", "__meta_a": "b"}}]`))
	f.Add("a.yml", []byte("- targets: [a, 'b:1']\n  labels: {k: v}\n"))
	f.Fuzz(func(t *testing.T, name string, b []byte) {
		groups, err := ParseFileSD(name, b)
		if err != nil {
			if !icmperrors.Is(err, icmperrors.ErrInvalidArgument) {
				t.Fatalf("error of the wrong class: %v", err)
			}
			return
		}
		for _, g := range groups {
			for _, tg := range g.Targets {
				if tg == "" {
					t.Fatal("an empty target passed")
				}
			}
			for k := range g.Labels {
				if checkLabelName(k) != nil {
					t.Fatalf("label %q passed", k)
				}
			}
		}
	})
}
