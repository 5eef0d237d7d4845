"""Reference run of icmplib's multiping for the icmpkit bench scripts.

usage: icmplib_multiping.py CIDR raw|dgram [COUNT [TIMEOUT]]

Pings every address of CIDR but network and broadcast (ipaddress.hosts()) with icmplib's
multiping, and prints "alive=N hosts=M" on stdout. Exit status 0 when every host is alive.
"""

import ipaddress
import sys

from icmplib import multiping


def main():
    net = ipaddress.ip_network(sys.argv[1], strict=False)
    privileged = sys.argv[2] == "raw"
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 2
    targets = [str(a) for a in net.hosts()]
    hosts = multiping(targets, count=count, interval=0, timeout=timeout, privileged=privileged)
    alive = sum(1 for h in hosts if h.is_alive)
    print(f"alive={alive} hosts={len(hosts)}")
    return 0 if alive == len(hosts) else 1


if __name__ == "__main__":
    sys.exit(main())
