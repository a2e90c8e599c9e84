"""A small HTTP server on 127.0.0.1 that serves one file the way download tests need."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class WeightsServer:
    """Serves `payload` at /w.mat with Range support; /missing answers 404.

    cut_after: on the next request only, send the headers for the whole rest
    and then just this many bytes before closing (a broken connection).
    honour_range: False makes it answer every request with the whole file (200).
    """

    def __init__(self, payload: bytes):
        self.payload = payload
        self.cut_after: int | None = None
        self.honour_range = True
        self.ranges: list[str | None] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                if self.path != "/w.mat":
                    self.send_error(404, "Not Found")
                    return
                wanted = self.headers.get("Range")
                server.ranges.append(wanted)
                start = 0
                if wanted and server.honour_range:
                    start = int(wanted.removeprefix("bytes=").split("-")[0])
                    if start >= len(server.payload):
                        self.send_error(416, "Range Not Satisfiable")
                        return
                body = server.payload[start:]
                self.send_response(206 if start else 200)
                if start:
                    total = len(server.payload)
                    self.send_header("Content-Range", f"bytes {start}-{total - 1}/{total}")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.cut_after is not None:
                    body, server.cut_after = body[: server.cut_after], None
                self.wfile.write(body)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_port}/w.mat"
        self.missing_url = f"http://127.0.0.1:{self._httpd.server_port}/missing"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def closed_port_url() -> str:
    """A URL on 127.0.0.1 at a port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/w.mat"


class SilentServer:
    """Accepts connections (the kernel's backlog does) but never answers."""

    def __init__(self):
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(4)
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}/w.mat"

    def close(self) -> None:
        self._socket.close()
