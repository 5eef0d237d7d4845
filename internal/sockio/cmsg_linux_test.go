package sockio

import (
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"golang.org/x/sys/unix"
)

// buildCmsgs lays out a timestamp and a hop limit as the kernel does.
func buildCmsgs(sec, nsec int64, hops int) []byte {
	tsLen := int(unsafe.Sizeof(unix.Timespec{}))
	b := make([]byte, unix.CmsgSpace(tsLen)+unix.CmsgSpace(4))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS
	h.SetLen(unix.CmsgLen(tsLen))
	ts := unix.NsecToTimespec(sec*1e9 + nsec)
	*(*unix.Timespec)(unsafe.Pointer(&b[unix.CmsgLen(0)])) = ts
	PutCmsgInt(b[unix.CmsgSpace(tsLen):], unix.IPPROTO_IPV6, unix.IPV6_HOPLIMIT, hops)
	return b
}

func TestParseCmsgs(t *testing.T) {
	b := buildCmsgs(1700000000, 123456789, 57)
	c := ParseCmsgs(b)
	assert.Equal(t, time.Unix(1700000000, 123456789), c.At)
	assert.Equal(t, 57, c.TTL)
	assert.Nil(t, c.ExtErr)

	c = ParseCmsgs(nil)
	assert.True(t, c.At.IsZero())
	assert.Zero(t, c.TTL)

	// Cut anywhere, or with a lying length, nothing breaks.
	for n := range len(b) {
		ParseCmsgs(b[:n])
	}
	bad := append([]byte(nil), b...)
	(*unix.Cmsghdr)(unsafe.Pointer(&bad[0])).SetLen(1 << 20)
	assert.True(t, ParseCmsgs(bad).At.IsZero())
}

func FuzzParseCmsgs(f *testing.F) {
	f.Add(buildCmsgs(1, 2, 3))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		// Word-align as the kernel's buffer is.
		words := make([]uint64, (len(b)+7)/8)
		a := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(words))), len(words)*8)[:len(b)]
		copy(a, b)
		ParseCmsgs(a)
	})
}
