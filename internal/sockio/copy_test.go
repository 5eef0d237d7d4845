package sockio

import (
	"testing"

	"github.com/icmpkit/icmpkit/transport"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/icmp"
)

func TestCopyReusesMPLS(t *testing.T) {
	labels := []icmp.MPLSLabel{{Label: 1}, {Label: 2, S: true}}
	src := transport.Reply{Seq: 3, MPLS: labels}
	dst := transport.Reply{MPLS: make([]icmp.MPLSLabel, 0, 4)}
	backing := &dst.MPLS[:1][0]
	Copy(&dst, &src)
	require.Equal(t, labels, dst.MPLS)
	assert.Same(t, backing, &dst.MPLS[0])
	assert.Equal(t, 3, dst.Seq)

	Copy(&dst, &transport.Reply{Seq: 4})
	assert.Empty(t, dst.MPLS)
	assert.Equal(t, 4, cap(dst.MPLS), "the array stays with the caller")

	var small transport.Reply
	Copy(&small, &src)
	assert.Equal(t, labels, small.MPLS)
}

func TestTake(t *testing.T) {
	assert.Zero(t, Take(nil, make([]transport.Reply, 3)), "a nil queue holds none")
	q := make(chan transport.Reply, 8)
	for seq := range 5 {
		q <- transport.Reply{Seq: seq}
	}
	dst := make([]transport.Reply, 3)
	require.Equal(t, 3, Take(q, dst), "as many as fit")
	for i := range dst {
		assert.Equal(t, i, dst[i].Seq)
	}
	require.Equal(t, 2, Take(q, dst), "as many as wait")
	assert.Equal(t, 3, dst[0].Seq)
	assert.Equal(t, 4, dst[1].Seq)
	assert.Zero(t, Take(q, dst), "none left, and no wait")
	assert.Zero(t, Take(q, nil))
}
