#!/usr/bin/python3
"""A misbehaving HTTP server on 127.0.0.1 for the tests of the fetcher's limits.

Usage: slow_http_server.py PORT_FILE
Binds a free loopback port, writes it to PORT_FILE (atomically) and answers every request:
  GET /announced/N    200 with Content-Length: N and N bytes at once
  GET /unannounced/N  200 without Content-Length (HTTP/1.0, ends when the connection closes),
                      N bytes at once
  anything else       200 announcing 1000000 bytes, then one byte a second (a trickling mirror)
"""
import os
import socket
import sys
import threading
import time


def handle(conn):
    try:
        request = b""
        while b"\r\n\r\n" not in request:
            data = conn.recv(4096)
            if not data:
                return
            request += data
        path = request.split(b" ")[1].decode("ascii", "replace")
        parts = path.strip("/").split("/")
        if len(parts) == 2 and parts[0] in ("announced", "unannounced") and parts[1].isdigit():
            size = int(parts[1])
            if parts[0] == "announced":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % size)
            else:
                conn.sendall(b"HTTP/1.0 200 OK\r\n\r\n")
            block = b"x" * 65536
            left = size
            while left > 0:
                n = min(left, len(block))
                conn.sendall(block[:n])
                left -= n
            return
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n")
        while True:
            conn.sendall(b"x")
            time.sleep(1)
    except OSError:
        pass
    finally:
        conn.close()


def main():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    port_file = sys.argv[1]
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.getsockname()[1]))
    os.rename(port_file + ".tmp", port_file)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
