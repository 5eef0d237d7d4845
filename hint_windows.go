package icmpkit

// permissionHint says, when auto mode can open neither transport, what each needs on Windows.
const permissionHint = "on Windows the unprivileged mode uses the ICMP API of iphlpapi.dll, which needs no privilege; " +
	"raw sockets would need Administrator rights and are implemented on Linux only"
