package icmpkit

import (
	"context"
	"os"
	"syscall"
	"testing"

	"github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// namedTransport is a do-nothing transport with a name, for the choice Open makes.
type namedTransport struct {
	name      string
	broadcast bool
	closed    bool
}

func (n *namedTransport) Send(context.Context, *transport.Request) error { return nil }
func (n *namedTransport) Receive(ctx context.Context, _ *transport.Reply) error {
	<-ctx.Done()
	return ctx.Err()
}
func (n *namedTransport) Close() error               { n.closed = true; return nil }
func (n *namedTransport) Name() string               { return n.name }
func (n *namedTransport) SetBroadcast(on bool) error { n.broadcast = on; return nil }
func (n *namedTransport) Broadcast() bool            { return n.broadcast }

func TestParseMode(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Mode
	}{{"auto", ModeAuto}, {"raw", ModePrivileged}, {"RAW", ModePrivileged}, {"privileged", ModePrivileged}, {"dgram", ModeUnprivileged}, {"unprivileged", ModeUnprivileged}} {
		m, err := ParseMode(tt.in)
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, m, tt.in)
	}
	for _, bad := range []string{"", "icmp", "raw "} {
		_, err := ParseMode(bad)
		assert.ErrorIs(t, err, errors.ErrInvalidArgument, "%q", bad)
	}
	assert.Equal(t, "auto", ModeAuto.String())
	assert.Equal(t, "raw", ModePrivileged.String())
	assert.Equal(t, "dgram", ModeUnprivileged.String())
	assert.Equal(t, "Mode(7)", Mode(7).String())
}

func TestModeOf(t *testing.T) {
	assert.Equal(t, ModePrivileged, ModeOf(&namedTransport{name: "raw"}))
	assert.Equal(t, ModeUnprivileged, ModeOf(&namedTransport{name: "dgram"}))
	assert.Equal(t, ModeAuto, ModeOf(&namedTransport{name: "mock"}))
}

func TestOpenChoice(t *testing.T) {
	permission := &errors.Error{Op: "open raw ICMPv4 socket", Class: errors.ErrPermission, Err: syscall.EPERM}
	dgramDenied := &errors.Error{Op: "open ICMPv4 ping socket", Class: errors.ErrPermission, Err: syscall.EACCES}
	badSource := &errors.Error{Op: "bind", Class: errors.ErrAddress, Err: syscall.EADDRNOTAVAIL}
	unsupported := errors.NotSupported("raw sockets")
	tests := []struct {
		name     string
		mode     Mode
		rawErr   error
		dgramErr error
		want     string // name of the transport, or "" for an error
		class    error
		errno    error
	}{
		{"auto takes raw", ModeAuto, nil, nil, "raw", nil, nil},
		{"auto falls back", ModeAuto, permission, nil, "dgram", nil, nil},
		{"auto falls back when raw is not supported", ModeAuto, unsupported, nil, "dgram", nil, nil},
		{"auto neither", ModeAuto, permission, dgramDenied, "", errors.ErrPermission, os.ErrPermission},
		{"auto keeps other raw errors", ModeAuto, badSource, nil, "", errors.ErrAddress, nil},
		{"raw only", ModePrivileged, permission, nil, "", errors.ErrPermission, os.ErrPermission},
		{"dgram only", ModeUnprivileged, nil, dgramDenied, "", errors.ErrPermission, nil},
		{"dgram", ModeUnprivileged, permission, nil, "dgram", nil, nil},
		{"bad mode", Mode(9), nil, nil, "", errors.ErrInvalidArgument, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opened []string
			raw := func(Config) (transport.Transport, error) {
				opened = append(opened, "raw")
				if tt.rawErr != nil {
					return nil, tt.rawErr
				}
				return &namedTransport{name: "raw"}, nil
			}
			dgram := func(Config) (transport.Transport, error) {
				opened = append(opened, "dgram")
				if tt.dgramErr != nil {
					return nil, tt.dgramErr
				}
				return &namedTransport{name: "dgram"}, nil
			}
			tr, err := open(tt.mode, Config{}, raw, dgram)
			if tt.want == "" {
				require.Error(t, err, "opened %v", opened)
				assert.ErrorIs(t, err, tt.class)
				if tt.errno != nil {
					assert.ErrorIs(t, err, tt.errno)
				}
				if tt.mode == ModeAuto && errors.Is(err, errors.ErrPermission) {
					assert.Equal(t, "icmpkit: open ICMP transport: permission denied: raw socket: operation not permitted; "+
						"datagram socket: permission denied ("+permissionHint+")", err.Error())
					assert.ErrorIs(t, err, syscall.EACCES, "both causes stay reachable")
					assert.ErrorIs(t, err, syscall.EPERM)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, tr.(transport.Namer).Name())
		})
	}
}

func TestOpenConfig(t *testing.T) {
	var got Config
	var tr *namedTransport
	raw := func(c Config) (transport.Transport, error) {
		got = c
		tr = &namedTransport{name: "raw"}
		return tr, nil
	}
	_, err := open(ModePrivileged, Config{ID: 70000}, raw, raw)
	assert.ErrorIs(t, err, errors.ErrInvalidArgument)
	_, err = open(ModePrivileged, Config{Source: mustAddr("::ffff:127.0.0.1")}, raw, raw)
	assert.ErrorIs(t, err, errors.ErrInvalidArgument)

	cfg := Config{Source: mustAddr("127.0.0.1"), Interface: "lo", ID: 77, Broadcast: true}
	out, err := open(ModePrivileged, cfg, raw, raw)
	require.NoError(t, err)
	assert.Equal(t, cfg, got)
	assert.True(t, out.(transport.Broadcaster).Broadcast(), "broadcast switched on")

	// A transport that cannot broadcast is closed again.
	var plain *plainTransport
	_, err = open(ModePrivileged, cfg, func(Config) (transport.Transport, error) {
		plain = &plainTransport{}
		return plain, nil
	}, raw)
	assert.ErrorIs(t, err, errors.ErrNotSupported)
	assert.True(t, plain.closed)
}

type plainTransport struct{ closed bool }

func (p *plainTransport) Send(context.Context, *transport.Request) error  { return nil }
func (p *plainTransport) Receive(context.Context, *transport.Reply) error { return nil }
func (p *plainTransport) Close() error                                    { p.closed = true; return nil }
