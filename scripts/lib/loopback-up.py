"""Bring the loopback interface up: the first step inside a new, empty network namespace.

A fresh namespace has only ``lo``, and it is down. This is ``ip link set lo up`` without
needing iproute2 (not installed on a minimal Debian/Ubuntu): one SIOCSIFFLAGS ioctl. The
kernel then gives ``lo`` 127.0.0.1/8 and ::1 by itself.

    python3 loopback-up.py [COMMAND [ARG...]]   # then exec COMMAND, if given
"""

import fcntl
import os
import socket
import struct
import sys

SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
IFREQ = "16sH14x"  # struct ifreq: interface name, then ifr_flags (short) in the union

with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
    request = struct.pack(IFREQ, b"lo", 0)
    flags = struct.unpack(IFREQ, fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
    fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack(IFREQ, b"lo", flags | IFF_UP))

if len(sys.argv) > 1:
    os.execvp(sys.argv[1], sys.argv[1:])
