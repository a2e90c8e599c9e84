"""The live view's HTTP server: Python's standard library (http.server), one thread per
connection, bound before any weights or TensorFlow load.

What exists, and nothing else (404; another method: 405; a malformed request: 400):

    GET  /                  the page (static/index.html, with the run's Stop token)
    GET  /live.js, /live.css
    GET  /events            server-sent events: "progress" (JSON), "image" (a JPEG data: URL
                            of the latest picture), "end" (JSON), as the run goes on
    GET  /image.png         the latest picture, as PNG (the download)
    GET  /input/content.png, /input/style-K.png   the run's input images
    GET  /run/NAME          an image file in the run folder (NAME: letters, digits, _ . -,
                            ending .png, .jpg or .gif; never a link, never elsewhere)
    POST /stop              the run ends after the current iteration, with its result

Security: the server listens on 127.0.0.1 unless told otherwise. There, every request must
name the bound address in its Host header (another name, such as a DNS-rebinding attacker's,
gets 403). On any other host, every request must carry the URL's random token (the query's
?token=, or the cookie the page's answer sets; 403 otherwise). POST /stop must also carry
the page's own Stop token in the X-Live-Token header, which only the page knows: another
site's page in the same browser cannot read it, and cannot send that header without a CORS
preflight, which is never answered.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import json
import os
import re
import secrets
import socket
import socketserver
import stat
import sys
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from nst.errors import InputError
from nst.web.state import LiveState

STATIC = Path(__file__).parent / "static"
"""The page's files."""
ASSETS = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/live.js": ("live.js", "text/javascript; charset=utf-8"),
    "/live.css": ("live.css", "text/css; charset=utf-8"),
}
"""The page and its assets: URL path -> (file in STATIC, content type)."""
RUN_FILE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}\.(png|jpg|gif)")
"""The names of the run folder's files that are served."""
IMAGE_TYPES = {"png": "image/png", "jpg": "image/jpeg", "gif": "image/gif"}
MAX_URL = 2048
"""Longer request targets get 400."""
MAX_BODY = 4096
"""Requests with a longer body get 400."""
PORT_TRIES = 20
"""How many ports from the one asked for are tried when it is taken."""
IMAGE_SECONDS = 1.0
"""Each page gets the latest picture at most this often (and at each saved iterate)."""
UPDATE_SECONDS = 0.25
"""Each page gets the progress at most this often."""
KEEPALIVE_SECONDS = 15.0
"""A quiet event stream gets a comment this often, so that a gone page is noticed."""
COOKIE = "nst_live"
"""The cookie that carries the URL's token (on a host other than the loopback's)."""


def is_loopback(host: str) -> bool:
    """Whether `host` is this machine only: localhost, 127.0.0.0/8 or ::1."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class LiveServer:
    """The live view of the run whose `state` it shows, listening on (`host`, `port`), or
    on the next free port when that one is taken (port 0: any free port); `stop` is called
    on POST /stop. Binding fails with an InputError naming --web (a port that cannot be
    used, a bad host). start() serves in a daemon thread; close() lets the open pages get
    the run's end, then stops serving.

    `url` is the page's address (with ?token= on a host other than the loopback's);
    `stop_token` the secret the page sends with Stop."""

    def __init__(self, host: str, port: int, state: LiveState, stop: Callable[[], None]) -> None:
        self.state, self.stop = state, stop
        self.host = host
        self.local = is_loopback(host)
        self.token = None if self.local else secrets.token_urlsafe(24)
        self.stop_token = secrets.token_urlsafe(24)
        self.assets = {path: (STATIC / name).read_bytes() for path, (name, _) in ASSETS.items()}
        self.streams: set[threading.Thread] = set()  # the event streams being served
        self.closing = threading.Event()
        self.httpd = _bind(host, port, self)
        self.port = self.httpd.server_address[1]
        shown = f"[{host}]" if ":" in host else host
        self.netloc = f"{shown}:{self.port}"
        self.hosts = {self.netloc}  # the Host headers a loopback server accepts
        if self.local:
            self.hosts |= {f"{name}:{self.port}" for name in ("localhost", "127.0.0.1", "[::1]")}
        query = f"?token={self.token}" if self.token else ""
        self.url = f"http://{self.netloc}/{query}"
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2}, name="live view",
            daemon=True,
        )  # fmt: skip
        self._thread.start()

    def close(self, grace: float = 2 * IMAGE_SECONDS) -> None:
        """Stop serving: the open event streams first get what is left to send (the run's end,
        when it has ended), for at most `grace` seconds; then the socket closes."""
        deadline = time.monotonic() + grace
        for thread in list(self.streams):
            thread.join(max(0.0, deadline - time.monotonic()))
        self.closing.set()
        if self._thread is not None:
            self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> LiveServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    live: LiveServer

    def server_bind(self) -> None:
        # HTTPServer's own looks the host's full name up, which can take seconds
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request: object, client_address: object) -> None:
        # a page that goes mid-request is no error of the run's (whose output is its own)
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _HTTPServer6(_HTTPServer):
    address_family = socket.AF_INET6


def _bind(host: str, port: int, live: LiveServer) -> _HTTPServer:
    """A server listening on (host, port), or the next free port of PORT_TRIES; InputError
    naming --web when none can be used."""
    kind = _HTTPServer6 if ":" in host else _HTTPServer
    asked = f"--web {f'[{host}]' if ':' in host else host}:{port}"
    ports = [port] if port == 0 else range(port, min(port + PORT_TRIES, 65536))
    for candidate in ports:
        try:
            server = kind((host, candidate), _Handler)
        except socket.gaierror as e:
            raise InputError(f"{asked}: no such host ({e.strerror})") from None
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                continue
            raise InputError(f"{asked}: cannot listen there ({e.strerror or e})") from None
        server.live = live
        return server
    raise InputError(f"{asked}: ports {ports[0]} to {ports[-1]} are all taken")


class _Handler(BaseHTTPRequestHandler):
    """One connection's requests (see the module's docstring for what exists)."""

    server_version = "neural_art"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    timeout = 60  # seconds a connection may be idle, or an event stream's write be blocked
    server: _HTTPServer

    def log_message(self, format: str, *args: object) -> None:  # the run's output is its own
        pass

    @property
    def live(self) -> LiveServer:
        return self.server.live

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        path = self._allowed()
        if path is None:
            return
        if path in ASSETS:
            body = self.live.assets[path]
            if path == "/":
                body = body.replace(b"{{STOP_TOKEN}}", self.live.stop_token.encode())
            cookie = None
            if self.live.token is not None:
                cookie = f"{COOKIE}={self.live.token}; Path=/; HttpOnly; SameSite=Strict"
            self._send(HTTPStatus.OK, body, ASSETS[path][1], cookie=cookie)
        elif path == "/events":
            self._events()
        elif path == "/image.png":
            encoded = self.live.state.image_png()
            if encoded is None:
                self._send(HTTPStatus.NOT_FOUND, b"no image yet\n")
            else:
                self._send(HTTPStatus.OK, encoded[1], "image/png")
        elif path.startswith("/input/") and path.endswith(".png"):
            body = self.live.state.input_png(path.removeprefix("/input/").removesuffix(".png"))
            if body is None:
                self._send(HTTPStatus.NOT_FOUND, b"not found\n")
            else:
                self._send(HTTPStatus.OK, body, "image/png")
        elif path.startswith("/run/"):
            self._run_file(path.removeprefix("/run/"))
        else:
            self._send(HTTPStatus.NOT_FOUND, b"not found\n")

    def do_POST(self) -> None:  # noqa: N802
        path = self._allowed()
        if path is None:
            return
        if path != "/stop":
            self._send(HTTPStatus.NOT_FOUND, b"not found\n")
            return
        given = self.headers.get("X-Live-Token", "")
        if not secrets.compare_digest(given.encode(), self.live.stop_token.encode()):
            self._send(HTTPStatus.FORBIDDEN, b"forbidden\n")
            return
        self.live.stop()
        self._send(HTTPStatus.OK, b"stopping\n")

    def _method_not_allowed(self) -> None:
        self._send(HTTPStatus.METHOD_NOT_ALLOWED, b"method not allowed\n",
                   extra={"Allow": "GET, POST"})  # fmt: skip

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _method_not_allowed  # noqa: N815

    def _allowed(self) -> str | None:
        """The request's path, when the request may go on; else None, once it is answered
        (400: too long, not a plain path, or a body too long; 403: a wrong Host or token)."""
        if len(self.path) > MAX_URL or not self.path.startswith("/"):
            self._send(HTTPStatus.BAD_REQUEST, b"bad request\n")
            return None
        length = self.headers.get("Content-Length") or "0"
        if not length.isdigit() or int(length) > MAX_BODY:
            self._send(HTTPStatus.BAD_REQUEST, b"bad request\n")
            return None
        self.rfile.read(int(length))  # nothing reads a body: it is only taken off the wire
        if self.live.local and self.headers.get("Host", "") not in self.live.hosts:
            self._send(HTTPStatus.FORBIDDEN, b"forbidden\n")
            return None
        parts = urlsplit(self.path)
        if self.live.token is not None:
            given = parse_qs(parts.query).get("token", [""])[0] or self._cookie()
            if not secrets.compare_digest(given.encode(), self.live.token.encode()):
                self._send(HTTPStatus.FORBIDDEN, b"forbidden\n")
                return None
        return unquote(parts.path, errors="strict") if _decodable(parts.path) else ""

    def _cookie(self) -> str:
        for item in self.headers.get("Cookie", "").split(";"):
            name, _, value = item.strip().partition("=")
            if name == COOKIE:
                return value
        return ""

    def _run_file(self, name: str) -> None:
        """The run folder's file `name`: 404 unless a plain name of RUN_FILE, of a regular
        file in the folder itself (a link is never followed)."""
        folder = self.live.state.folder()
        if folder is None or not RUN_FILE.fullmatch(name) or ".." in name:
            self._send(HTTPStatus.NOT_FOUND, b"not found\n")
            return
        try:
            fd = os.open(folder / name, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            self._send(HTTPStatus.NOT_FOUND, b"not found\n")
            return
        with os.fdopen(fd, "rb") as file:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                self._send(HTTPStatus.NOT_FOUND, b"not found\n")
                return
            body = file.read()
        self._send(HTTPStatus.OK, body, IMAGE_TYPES[name.rpartition(".")[2]])

    def _events(self) -> None:
        """The event stream: the progress at most every UPDATE_SECONDS, the picture at most
        every IMAGE_SECONDS and at each saved iterate, until the run ends or the page goes."""
        self.live.streams.add(threading.current_thread())
        try:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            self._stream()
        except (BrokenPipeError, ConnectionError, OSError):
            pass  # the page went: it only loses its updates
        finally:
            self.live.streams.discard(threading.current_thread())

    def _stream(self) -> None:
        state = self.live.state
        version, points, image, saved, image_at = -1, 0, -1, 0, -float("inf")
        quiet_since = time.monotonic()
        while not self.live.closing.is_set():
            new = state.wait(version, timeout=IMAGE_SECONDS)
            snap = state.snapshot(points)
            now = time.monotonic()
            sent = False
            if new != version:
                version = new
                progress = {**snap.progress, "points": snap.points}
                points += len(snap.points)
                self._event("progress", json.dumps(progress))
                sent = True
            due = now - image_at >= IMAGE_SECONDS or snap.saved != saved or snap.ended
            if snap.image != image and due:
                encoded = state.image_jpeg_url()
                if encoded is not None:
                    image, saved, image_at = encoded[0], snap.saved, now
                    self._event("image", json.dumps({"iteration": image, "src": encoded[1]}))
                    sent = True
            if snap.ended and snap.image == image:
                self._event("end", json.dumps(snap.progress))
                return
            if sent:
                quiet_since = now
            elif now - quiet_since >= KEEPALIVE_SECONDS:
                self.wfile.write(b": still here\n\n")
                self.wfile.flush()
                quiet_since = now
            time.sleep(UPDATE_SECONDS)

    def _event(self, name: str, data: str) -> None:
        self.wfile.write(f"event: {name}\ndata: {data}\n\n".encode())
        self.wfile.flush()

    def _send(
        self,
        status: HTTPStatus,
        body: bytes,
        content_type: str = "text/plain; charset=utf-8",
        cookie: str | None = None,
        extra: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", "default-src 'self'; img-src 'self' data:")
        if status >= 400:  # what is left of the request is not read: the connection ends
            self.send_header("Connection", "close")
            self.close_connection = True
        if cookie:
            self.send_header("Set-Cookie", cookie)
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(body)


def _decodable(path: str) -> bool:
    """Whether the URL path's %-escapes decode to UTF-8 text without NUL."""
    try:
        return "\0" not in unquote(path, errors="strict")
    except UnicodeDecodeError:
        return False
