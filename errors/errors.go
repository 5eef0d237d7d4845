package errors

import (
	stderrors "errors"
	"fmt"
	"net/netip"
)

// The standard library's functions, so that callers rarely need two imports.
var (
	Is     = stderrors.Is
	As     = stderrors.As
	Unwrap = stderrors.Unwrap
	Join   = stderrors.Join
	New    = stderrors.New
)

// class is a node of the hierarchy: a sentinel with a parent.
type class struct {
	msg    string
	parent *class
}

func (c *class) Error() string { return c.msg }

// Is reports whether c is target or descends from it.
func (c *class) Is(target error) bool {
	t, ok := target.(*class)
	if !ok {
		return false
	}
	for p := c; p != nil; p = p.parent {
		if p == t {
			return true
		}
	}
	return false
}

func newClass(parent *class, msg string) *class { return &class{msg: msg, parent: parent} }

// The hierarchy. Every error icmpkit returns matches ErrLibrary.
//
//	ErrLibrary
//	├── ErrSocket
//	│   ├── ErrPermission
//	│   ├── ErrAddress
//	│   ├── ErrUnavailable
//	│   ├── ErrBroadcast
//	│   ├── ErrTimeout
//	│   └── ErrMessageSize
//	├── ErrICMP
//	│   ├── ErrDestinationUnreachable
//	│   │   ├── ErrDestinationUnreachableV4
//	│   │   └── ErrDestinationUnreachableV6
//	│   ├── ErrTimeExceeded
//	│   │   ├── ErrTimeExceededV4
//	│   │   └── ErrTimeExceededV6
//	│   ├── ErrPacketTooBig
//	│   └── ErrParameterProblem
//	├── ErrNameLookup
//	├── ErrInvalidArgument
//	└── ErrNotSupported
var (
	// ErrLibrary is the root: errors.Is(err, ErrLibrary) holds for every error icmpkit returns.
	ErrLibrary error = rootClass

	// ErrSocket is the parent of every failed socket operation.
	ErrSocket error = socketClass
	// ErrPermission: the process may not open the socket it asked for.
	// Errors of this class also match os.ErrPermission.
	ErrPermission error = newClass(socketClass, "permission denied")
	// ErrAddress: the source address or interface cannot be used.
	ErrAddress error = newClass(socketClass, "address cannot be used")
	// ErrUnavailable: the socket or transport is closed, or its network went away.
	ErrUnavailable error = newClass(socketClass, "socket unavailable")
	// ErrBroadcast: a broadcast destination was used while broadcast is off.
	ErrBroadcast error = newClass(socketClass, "broadcast not enabled")
	// ErrTimeout: nothing arrived before the deadline.
	ErrTimeout error = newClass(socketClass, "timed out")
	// ErrMessageSize: a request that may not be fragmented is larger than the local link
	// allows (EMSGSIZE).
	ErrMessageSize error = newClass(socketClass, "message too long")

	// ErrICMP is the parent of the errors that an ICMP error message stands for.
	ErrICMP error = icmpClass
	// ErrDestinationUnreachable matches both of its family forms.
	ErrDestinationUnreachable error = unreachClass
	// ErrDestinationUnreachableV4 is an ICMPv4 Destination Unreachable (type 3).
	ErrDestinationUnreachableV4 error = newClass(unreachClass, "destination unreachable (ICMPv4)")
	// ErrDestinationUnreachableV6 is an ICMPv6 Destination Unreachable (type 1).
	ErrDestinationUnreachableV6 error = newClass(unreachClass, "destination unreachable (ICMPv6)")
	// ErrTimeExceeded matches both of its family forms.
	ErrTimeExceeded error = exceededClass
	// ErrTimeExceededV4 is an ICMPv4 Time Exceeded (type 11).
	ErrTimeExceededV4 error = newClass(exceededClass, "time exceeded (ICMPv4)")
	// ErrTimeExceededV6 is an ICMPv6 Time Exceeded (type 3).
	ErrTimeExceededV6 error = newClass(exceededClass, "time exceeded (ICMPv6)")
	// ErrPacketTooBig is an ICMPv6 Packet Too Big (type 2).
	ErrPacketTooBig error = newClass(icmpClass, "packet too big")
	// ErrParameterProblem is an ICMPv4 (type 12) or ICMPv6 (type 4) Parameter Problem.
	ErrParameterProblem error = newClass(icmpClass, "parameter problem")

	// ErrNameLookup: a host name did not resolve to an address of a usable family.
	ErrNameLookup error = newClass(rootClass, "name lookup failed")
	// ErrInvalidArgument: an argument is out of range or malformed.
	ErrInvalidArgument error = newClass(rootClass, "invalid argument")
	// ErrNotSupported: the platform or transport cannot do what was asked.
	ErrNotSupported error = newClass(rootClass, "not supported")
)

var (
	rootClass     = newClass(nil, "icmpkit error")
	socketClass   = newClass(rootClass, "socket error")
	icmpClass     = newClass(rootClass, "ICMP error")
	unreachClass  = newClass(icmpClass, "destination unreachable")
	exceededClass = newClass(icmpClass, "time exceeded")
)

// Error is a failed operation: what was attempted, its class in the hierarchy, and the cause
// (often a syscall.Errno, so errors.Is(err, os.ErrPermission) still holds).
type Error struct {
	Op    string // the operation, e.g. "open raw ICMPv4 socket"
	Class error  // one of the sentinels above
	Err   error  // the underlying cause; may be nil
	Hint  string // what to do about it; may be empty
}

// Error formats as "icmpkit: OP: CLASS: CAUSE (HINT)", leaving out a cause that only says
// what the class says.
func (e *Error) Error() string {
	s := "icmpkit: "
	if e.Op != "" {
		s += e.Op + ": "
	}
	s += e.Class.Error()
	if e.Err != nil {
		if cause := e.Err.Error(); cause != e.Class.Error() {
			s += ": " + cause
		}
	}
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

// Unwrap gives both the class and the cause to errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Class}
	}
	return []error{e.Class, e.Err}
}

// Wrap builds an *Error of the given class. A nil class means ErrLibrary.
func Wrap(class error, op string, err error) *Error {
	if class == nil {
		class = ErrLibrary
	}
	return &Error{Op: op, Class: class, Err: err}
}

// Invalid builds an ErrInvalidArgument error for the named argument.
func Invalid(arg string, format string, a ...any) *Error {
	return &Error{Op: arg, Class: ErrInvalidArgument, Err: fmt.Errorf(format, a...)}
}

// NotSupported builds an ErrNotSupported error for an operation.
func NotSupported(op string) *Error {
	return &Error{Op: op, Class: ErrNotSupported}
}

// ICMPError is the error an ICMP error message stands for: what Reply.Err returns
// (icmplib's raise_for_status). It carries the reply's identifying fields.
type ICMPError struct {
	Source      netip.Addr // the router or host that sent the message
	Destination netip.Addr // the destination of the probe it concerns
	ID, Seq     int        // identifier and sequence of that probe
	Type, Code  int        // ICMP type and code
	V6          bool       // ICMPv6 rather than ICMPv4
}

// Error gives the message for the type and code, e.g. "Destination host unreachable".
func (e *ICMPError) Error() string { return Message(e.V6, e.Type, e.Code) }

// Unwrap gives the class, so errors.Is(err, ErrTimeExceeded) works.
func (e *ICMPError) Unwrap() error { return ICMPClass(e.V6, e.Type) }

// ICMPClass gives the sentinel for an ICMP error type, or ErrICMP for a type without its own.
func ICMPClass(v6 bool, typ int) error {
	switch {
	case !v6 && typ == 3:
		return ErrDestinationUnreachableV4
	case !v6 && typ == 11:
		return ErrTimeExceededV4
	case !v6 && typ == 12:
		return ErrParameterProblem
	case v6 && typ == 1:
		return ErrDestinationUnreachableV6
	case v6 && typ == 2:
		return ErrPacketTooBig
	case v6 && typ == 3:
		return ErrTimeExceededV6
	case v6 && typ == 4:
		return ErrParameterProblem
	}
	return ErrICMP
}
