#!/usr/bin/env python3
"""tools/kernel-fileserver.py DIR [ADDR [PORT]] -- a file server on the
kernel's TCP that speaks the STCP client's protocol: it reads "NAME\\r\\n"
and replies "NAME,LENGTH,OK\\r\\n" and the file's bytes, or
"NAME,-1,File not found\\r\\n".  Prints its port.  For tools/tun-tryout.sh."""
import os
import socket
import sys

directory = sys.argv[1]
addr = sys.argv[2] if len(sys.argv) > 2 else "0.0.0.0"
port = int(sys.argv[3]) if len(sys.argv) > 3 else 0
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((addr, port))
ls.listen(8)
print("kernel file server on %s:%d" % ls.getsockname(), flush=True)
while True:
    c, peer = ls.accept()
    with c:
        req = b""
        while not req.endswith(b"\r\n") and len(req) < 1024:
            b = c.recv(1)
            if not b:
                break
            req += b
        name = os.path.basename(req.decode(errors="replace").strip())
        try:
            with open(os.path.join(directory, name), "rb") as f:
                data = f.read()
            c.sendall(b"%s,%d,OK\r\n" % (name.encode(), len(data)) + data)
        except OSError:
            c.sendall(b"%s,-1,File not found\r\n" % name.encode())
