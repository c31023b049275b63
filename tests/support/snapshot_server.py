#!/usr/bin/python3
"""A server shaped like Debian's snapshot archive (snapshot.debian.org), on 127.0.0.1, for tests.

Usage: snapshot_server.py PORT_FILE ROOT
ROOT holds archive/ARCHIVE/YYYYMMDDTHHMMSSZ/ trees (copies of a test repository at given times).
Binds a free loopback port, writes it to PORT_FILE (atomically) and answers GET and HEAD:
  /archive/ARCHIVE/TIME/PATH   the file, when TIME is a snapshot of ARCHIVE; else, as the real
                               service does, a 302 redirect to the same PATH in the last snapshot
                               before TIME; 404 when there is none or the file is not there
  anything else                404
"""
import http.server
import os
import re
import sys

TIME = re.compile(r"^[0-9]{8}T[0-9]{6}Z$")


class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def route(self):
        parts = self.path.split("?", 1)[0].split("/")
        # ['', 'archive', ARCHIVE, TIME, ...]
        if len(parts) < 5 or parts[1] != "archive" or not TIME.match(parts[3]) or ".." in parts:
            self.send_error(404)
            return None
        archive_dir = os.path.join(ROOT, "archive", parts[2])
        times = sorted(t for t in os.listdir(archive_dir) if TIME.match(t)) if os.path.isdir(archive_dir) else []
        if parts[3] in times:
            return os.path.join(archive_dir, parts[3], *parts[4:])
        earlier = [t for t in times if t < parts[3]]
        if not earlier:
            self.send_error(404)
            return None
        self.send_response(302)
        self.send_header("Location", "/".join(parts[:3] + [earlier[-1]] + parts[4:]))
        self.send_header("Content-Length", "0")
        self.end_headers()
        return None

    def send_file(self, head):
        path = self.route()
        if path is None:
            return
        if not os.path.isfile(path):
            self.send_error(404)
            return
        with open(path, "rb") as f:
            data = f.read()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if not head:
            self.wfile.write(data)

    def do_GET(self):
        self.send_file(False)

    def do_HEAD(self):
        self.send_file(True)


if __name__ == "__main__":
    port_file, ROOT = sys.argv[1], sys.argv[2]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(tmp, port_file)
    server.serve_forever()
