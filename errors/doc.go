// Package errors is icmpkit's error hierarchy, the Go form of icmplib's exceptions.
//
// Every error icmpkit returns matches [ErrLibrary] with [Is]. Below it, socket errors
// ([ErrPermission], [ErrAddress], [ErrUnavailable], [ErrBroadcast], [ErrTimeout]) say why an
// operation failed, and ICMP errors ([ErrDestinationUnreachable], [ErrTimeExceeded], each with
// a V4 and a V6 form) are what a reply's Err method returns for an ICMP error message
// (RFC 792, RFC 4443). [ErrInvalidArgument], [ErrNameLookup] and [ErrNotSupported] complete it.
//
// Failed operations come as [*Error], which keeps the operating system's cause, so
// errors.Is(err, os.ErrPermission) also holds for a permission failure. ICMP errors come as
// [*ICMPError], which carries the fields of the reply.
//
// The package re-exports [Is], [As], [Unwrap], [Join] and [New] from the standard library,
// so it can stand in for it:
//
//	if errors.Is(err, errors.ErrPermission) { ... }
package errors
