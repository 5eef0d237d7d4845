package lab

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/icmpkit/icmpkit/errors"
)

func TestValidate(t *testing.T) {
	cases := []struct {
		name string
		cfg  ChainConfig
		ok   bool
	}{
		{"zero", ChainConfig{}, true},
		{"full", ChainConfig{Routers: 30, Silent: []int{1, 30}, Unreachable: 3, DeadHosts: 100, TargetLoss: 100, MTU: map[int]int{0: 1280, 30: 9000}}, true},
		{"negative routers", ChainConfig{Routers: -1}, false},
		{"too many routers", ChainConfig{Routers: MaxRouters + 1}, false},
		{"silent zero", ChainConfig{Routers: 2, Silent: []int{0}}, false},
		{"silent beyond", ChainConfig{Routers: 2, Silent: []int{3}}, false},
		{"silent twice", ChainConfig{Routers: 2, Silent: []int{1, 1}}, false},
		{"unreachable without routers", ChainConfig{Unreachable: 1}, false},
		{"unreachable at beyond", ChainConfig{Routers: 2, Unreachable: 1, UnreachableAt: 3}, false},
		{"unreachable at without addresses", ChainConfig{Routers: 2, UnreachableAt: 1}, false},
		{"too many unreachable", ChainConfig{Routers: 1, Unreachable: MaxUnreachable + 1}, false},
		{"too many dead", ChainConfig{DeadHosts: MaxDeadHosts + 1}, false},
		{"negative loss", ChainConfig{TargetLoss: -1}, false},
		{"loss over 100", ChainConfig{TargetLoss: 101}, false},
		{"mtu link beyond", ChainConfig{Routers: 1, MTU: map[int]int{2: 1400}}, false},
		{"mtu too small", ChainConfig{MTU: map[int]int{0: 67}}, false},
		{"mtu too big", ChainConfig{MTU: map[int]int{0: 65536}}, false},
		{"rate limited", ChainConfig{Routers: 8, RateLimited: true}, true},
		{"rate limited and default", ChainConfig{Routers: 8, RateLimited: true, DefaultRateLimits: true}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.validate()
			if tc.ok {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, errors.ErrInvalidArgument)
		})
	}
	cfg := ChainConfig{Routers: 4, Unreachable: 1}
	require.NoError(t, cfg.validate())
	assert.Equal(t, 4, cfg.UnreachableAt)
}

func TestPlan(t *testing.T) {
	cfg := ChainConfig{Routers: 30, DeadHosts: 2, Unreachable: 2}
	require.NoError(t, cfg.validate())
	var c Chain
	c.plan(cfg, func(s string) string { return "x-" + s })
	assert.Equal(t, "198.18.0.1", c.Client.V4.String())
	assert.Equal(t, "2001:db8::1", c.Client.V6.String())
	assert.Equal(t, "198.18.0.2", c.Router(1).V4.String())
	assert.Equal(t, "198.18.29.2", c.Router(30).V4.String())
	assert.Equal(t, "2001:db8:0:29::2", c.Router(30).V6.String())
	assert.Equal(t, "x-r30", c.Router(30).NS)
	assert.Equal(t, "198.18.30.2", c.Target.V4.String())
	assert.Equal(t, "2001:db8:0:30::2", c.Target.V6.String())
	assert.Equal(t, []string{"198.18.30.100", "198.18.30.101"}, strs(c.DeadV4))
	assert.Equal(t, []string{"2001:db8:0:30::100", "2001:db8:0:30::101"}, strs(c.DeadV6))
	assert.Equal(t, []string{"198.19.0.1", "198.19.0.2"}, strs(c.UnreachableV4))
	assert.Equal(t, []string{"2001:db8:ffff::1", "2001:db8:ffff::2"}, strs(c.UnreachableV6))
	assert.Len(t, c.Hops(), 31)

	// Every address comes from the ranges the lab may use.
	pool4 := netip.MustParsePrefix("198.18.0.0/15")
	pool6 := netip.MustParsePrefix("2001:db8::/32")
	all := append(append(append([]netip.Addr{}, c.DeadV4...), c.DeadV6...), append(c.UnreachableV4, c.UnreachableV6...)...)
	for _, n := range c.nodes() {
		all = append(all, n.V4, n.V6)
	}
	for _, a := range all {
		assert.True(t, pool4.Contains(a) || pool6.Contains(a), "%s outside the lab's ranges", a)
	}

	// The info survives the trip to a child.
	env := c.Env()
	require.Len(t, env, 1)
	t.Setenv(EnvInfo, strings.TrimPrefix(env[0], EnvInfo+"="))
	assert.Equal(t, c.ChainInfo, ChildChain(t))
}

func strs(as []netip.Addr) []string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return s
}

func TestRunPattern(t *testing.T) {
	assert.Equal(t, "^TestX$", runPattern("TestX"))
	assert.Equal(t, `^TestX$/^a\.b\+c$`, runPattern("TestX/a.b+c"))
}

// fakeTB records how SkipOrFail ended a test.
type fakeTB struct {
	testing.TB
	skipped, failed bool
}

func (f *fakeTB) Helper()                      {}
func (f *fakeTB) Skip(...any)                  { f.skipped = true }
func (f *fakeTB) Fatalf(string, ...any)        { f.failed = true }
func (f *fakeTB) Logf(format string, a ...any) {}

func TestSkipOrFail(t *testing.T) {
	for _, tc := range []struct {
		env           string
		skip, failure bool
	}{{"", true, false}, {"0", true, false}, {"1", false, true}} {
		t.Run("env="+tc.env, func(t *testing.T) {
			t.Setenv(EnvRequirePriv, tc.env)
			f := &fakeTB{}
			SkipOrFail(f, "no %s", "root")
			assert.Equal(t, tc.skip, f.skipped)
			assert.Equal(t, tc.failure, f.failed)
		})
	}
}
