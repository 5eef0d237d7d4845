package lab

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/icmpkit/icmpkit/errors"
)

func TestValidateForwardLoss(t *testing.T) {
	for _, cfg := range []ChainConfig{
		{ForwardLoss: 10},
		{Routers: 2, ForwardLoss: -1},
		{Routers: 2, ForwardLoss: 101},
		{Routers: 2, ForwardLoss: 10, ForwardLossAt: 3},
		{Routers: 2, ForwardLossAt: 1},
	} {
		assert.ErrorIs(t, cfg.validate(), errors.ErrInvalidArgument, "%+v", cfg)
	}
	cfg := ChainConfig{Routers: 4, ForwardLoss: 20}
	require.NoError(t, cfg.validate())
	assert.Equal(t, 1, cfg.ForwardLossAt)
}

func TestForwardLossRules(t *testing.T) {
	c := &Chain{}
	cfg := ChainConfig{Routers: 4, ForwardLoss: 20, ForwardLossAt: 3}
	require.NoError(t, cfg.validate())
	c.plan(cfg, func(s string) string { return "x-" + s })
	for i := 0; i <= 5; i++ {
		rules := c.nftRules(i)
		if i == 3 {
			assert.Contains(t, rules, "hook forward")
			assert.Contains(t, rules, "icmp type echo-request numgen random mod 100 < 20 drop")
			assert.Contains(t, rules, "icmpv6 type echo-request numgen random mod 100 < 20 drop")
		} else {
			assert.NotContains(t, rules, "hook forward", "node %d", i)
		}
	}
}
