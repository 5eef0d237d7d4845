// Package wire encodes ICMP echo requests and parses what comes back, bytes in and
// [transport.Reply] out, with no sockets involved, so that every transport shares one
// careful parser.
//
// It reads IPv4 datagrams as raw IPv4 sockets deliver them (RFC 791 header, options included),
// ICMPv4 messages (RFC 792) and ICMPv6 messages (RFC 4443). ICMP error messages (Time Exceeded,
// Destination Unreachable, Packet Too Big, Parameter Problem) are traced back to the echo
// request they quote: the quoted IPv4 or IPv6 header (RFC 8200 extension headers included) and
// the first 8 bytes of the request give its destination, identifier and sequence. Multi-part
// messages (RFC 4884) are read with golang.org/x/net/icmp, and their MPLS label stack objects
// (RFC 4950) become [transport.Reply.MPLS].
//
// The hot paths (echo replies, and error messages without extensions) allocate nothing.
// Parsers never panic and never read out of bounds, whatever the input; the fuzz targets
// in the tests hold them to it.
package wire
