package errors

import "strconv"

var unreachableV4 = [...]string{
	0:  "Destination network unreachable",
	1:  "Destination host unreachable",
	2:  "Destination protocol unreachable",
	3:  "Destination port unreachable",
	4:  "Fragmentation needed and DF set",
	5:  "Source route failed",
	6:  "Destination network unknown",
	7:  "Destination host unknown",
	8:  "Source host isolated",
	9:  "Destination network administratively prohibited",
	10: "Destination host administratively prohibited",
	11: "Network unreachable for type of service",
	12: "Host unreachable for type of service",
	13: "Communication administratively prohibited",
	14: "Host precedence violation",
	15: "Precedence cutoff in effect",
}

var unreachableV6 = [...]string{
	0: "No route to destination",
	1: "Communication with destination administratively prohibited",
	2: "Beyond scope of source address",
	3: "Address unreachable",
	4: "Port unreachable",
	5: "Source address failed ingress/egress policy",
	6: "Reject route to destination",
	7: "Error in source routing header",
}

// Message gives the human-readable text of an ICMP type and code, in the words of
// icmplib and iputils ping (e.g. "Time to live exceeded").
func Message(v6 bool, typ, code int) string {
	pick := func(table []string, fallback string) string {
		if code >= 0 && code < len(table) && table[code] != "" {
			return table[code]
		}
		return fallback + " (code " + strconv.Itoa(code) + ")"
	}
	if !v6 {
		switch typ {
		case 0:
			return "Echo reply"
		case 3:
			return pick(unreachableV4[:], "Destination unreachable")
		case 11:
			return pick([]string{"Time to live exceeded", "Fragment reassembly time exceeded"}, "Time exceeded")
		case 12:
			return pick([]string{"Parameter problem: pointer indicates the error", "Parameter problem: missing a required option", "Parameter problem: bad length"}, "Parameter problem")
		}
	} else {
		switch typ {
		case 129:
			return "Echo reply"
		case 1:
			return pick(unreachableV6[:], "Destination unreachable")
		case 2:
			return "Packet too big"
		case 3:
			return pick([]string{"Hop limit exceeded in transit", "Fragment reassembly time exceeded"}, "Time exceeded")
		case 4:
			return pick([]string{"Erroneous header field encountered", "Unrecognized next header type encountered", "Unrecognized IPv6 option encountered"}, "Parameter problem")
		}
	}
	return "ICMP type " + strconv.Itoa(typ) + " code " + strconv.Itoa(code)
}
