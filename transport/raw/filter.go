package raw

import (
	"fmt"

	"golang.org/x/net/bpf"
)

// ICMP types the sockets let through: echo replies and the error messages that quote a
// request.
const (
	passTypesV4 = 1<<0 | 1<<3 | 1<<11 | 1<<12 // echo reply, unreachable, time exceeded, parameter problem
	// icmpFilterV4 is the ICMP_FILTER mask of an IPv4 raw socket: a set bit drops that type.
	icmpFilterV4 = ^uint32(passTypesV4)
)

// passTypesV6 are the ICMPv6 types an IPv6 raw socket lets through (ICMP6_FILTER).
var passTypesV6 = []uint8{1, 2, 3, 4, 129}

// acceptAll is what a filter returns to keep a packet whole.
const acceptAll = 0xffffffff

// asm assembles a classic BPF program with named jump targets.
type asm struct {
	ins    []bpf.Instruction
	labels map[string]int
	jumps  []jumpRef
}

type jumpRef struct {
	at        int
	yes, no   string // targets of a conditional jump; "" is the next instruction
	always    string // target of an unconditional jump
	condition bool
}

func newAsm() *asm { return &asm{labels: map[string]int{}} }

func (a *asm) op(i bpf.Instruction) { a.ins = append(a.ins, i) }

func (a *asm) label(name string) { a.labels[name] = len(a.ins) }

// jeq jumps to yes when A equals v, else to no.
func (a *asm) jeq(v uint32, yes, no string) {
	a.jumps = append(a.jumps, jumpRef{at: len(a.ins), yes: yes, no: no, condition: true})
	a.op(bpf.JumpIf{Cond: bpf.JumpEqual, Val: v})
}

// ja jumps to target.
func (a *asm) ja(target string) {
	a.jumps = append(a.jumps, jumpRef{at: len(a.ins), always: target})
	a.op(bpf.Jump{})
}

func (a *asm) assemble() ([]bpf.RawInstruction, error) {
	skip := func(from int, name string) (int, error) {
		if name == "" {
			return 0, nil
		}
		to, ok := a.labels[name]
		if !ok || to <= from {
			return 0, fmt.Errorf("bpf: bad jump from %d to %q", from, name)
		}
		return to - from - 1, nil
	}
	for _, j := range a.jumps {
		if !j.condition {
			s, err := skip(j.at, j.always)
			if err != nil {
				return nil, err
			}
			a.ins[j.at] = bpf.Jump{Skip: uint32(s)}
			continue
		}
		yes, err := skip(j.at, j.yes)
		if err != nil {
			return nil, err
		}
		no, err := skip(j.at, j.no)
		if err != nil {
			return nil, err
		}
		if yes > 255 || no > 255 {
			return nil, fmt.Errorf("bpf: jump from %d too far", j.at)
		}
		a.ins[j.at] = bpf.JumpIf{Cond: bpf.JumpEqual, Val: a.ins[j.at].(bpf.JumpIf).Val, SkipTrue: uint8(yes), SkipFalse: uint8(no)}
	}
	return bpf.Assemble(a.ins)
}

// idCheck ends a program: A holds an identifier; accept it when it is one of ids, or always
// when ids is nil (a types-only filter).
func (a *asm) idCheck(ids []uint16) {
	a.label("id")
	if ids != nil {
		for _, id := range ids {
			a.jeq(uint32(id), "accept", "")
		}
		a.op(bpf.RetConstant{Val: 0})
	}
	a.label("accept")
	a.op(bpf.RetConstant{Val: acceptAll})
	a.label("drop")
	a.op(bpf.RetConstant{Val: 0})
}

// filterV4 builds the program of an IPv4 raw socket, which reads packets from the IP header
// on. It accepts echo replies whose identifier is one of ids, and Destination Unreachable,
// Time Exceeded and Parameter Problem messages quoting an ICMP echo request whose identifier
// is one of ids; nil ids accepts any identifier. Loads past the end of a packet drop it.
func filterV4(ids []uint16) ([]bpf.RawInstruction, error) {
	a := newAsm()
	a.op(bpf.LoadMemShift{Off: 0})              // X = IP header length
	a.op(bpf.LoadIndirect{Off: 0, Size: 1})     // ICMP type
	a.jeq(0, "echo", "")                        // echo reply
	a.jeq(3, "error", "")                       // destination unreachable
	a.jeq(11, "error", "")                      // time exceeded
	a.jeq(12, "error", "drop")                  // parameter problem
	a.label("echo")                             //
	a.op(bpf.LoadIndirect{Off: 4, Size: 2})     // identifier
	a.ja("id")                                  //
	a.label("error")                            //
	a.op(bpf.LoadIndirect{Off: 8 + 9, Size: 1}) // quoted protocol
	a.jeq(1, "", "drop")                        // ICMP
	a.op(bpf.LoadIndirect{Off: 8, Size: 1})     // quoted version and header length
	a.op(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0x0f})
	a.op(bpf.ALUOpConstant{Op: bpf.ALUOpShiftLeft, Val: 2})
	a.op(bpf.ALUOpX{Op: bpf.ALUOpAdd})          // A = both header lengths
	a.op(bpf.TAX{})                             // X = A: the quoted ICMP header is at X+8
	a.op(bpf.LoadIndirect{Off: 8, Size: 1})     // quoted ICMP type
	a.jeq(8, "", "drop")                        // echo request
	a.op(bpf.LoadIndirect{Off: 8 + 4, Size: 2}) // quoted identifier
	a.idCheck(ids)
	return a.assemble()
}

// filterV6 builds the program of an IPv6 raw socket, which reads packets from the ICMPv6
// header on. It accepts echo replies whose identifier is one of ids, Destination Unreachable,
// Packet Too Big, Time Exceeded and Parameter Problem messages quoting an ICMPv6 echo request
// whose identifier is one of ids, and errors quoting a fragment (whose header chain user
// space walks); nil ids accepts any identifier.
func filterV6(ids []uint16) ([]bpf.RawInstruction, error) {
	a := newAsm()
	a.op(bpf.LoadAbsolute{Off: 0, Size: 1}) // ICMPv6 type
	a.jeq(129, "echo", "")                  // echo reply
	a.jeq(1, "error", "")                   // destination unreachable
	a.jeq(2, "error", "")                   // packet too big
	a.jeq(3, "error", "")                   // time exceeded
	a.jeq(4, "error", "drop")               // parameter problem
	a.label("echo")
	a.op(bpf.LoadAbsolute{Off: 4, Size: 2}) // identifier
	a.ja("id")
	a.label("error")
	a.op(bpf.LoadAbsolute{Off: 8 + 6, Size: 1}) // quoted next header
	a.jeq(58, "quoted", "")                     // ICMPv6
	a.jeq(44, "accept", "drop")                 // fragment
	a.label("quoted")
	a.op(bpf.LoadAbsolute{Off: 8 + 40, Size: 1}) // quoted ICMPv6 type
	a.jeq(128, "", "drop")                       // echo request
	a.op(bpf.LoadAbsolute{Off: 8 + 40 + 4, Size: 2})
	a.idCheck(ids)
	return a.assemble()
}
