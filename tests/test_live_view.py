"""The live view (--web, nst/web), over plain HTTP (its page in a real browser:
tests/test_live_view_browser.py).

1. --web's address, and the addresses that cannot be listened on;
2. a run watched by the live view paints the same images, and its Stop ends it early with
   its result;
3. only the page, its assets, the run's images, the event stream and Stop exist: paths out
   of the run folder, links, long or malformed requests, and a wrong Host, token or Stop
   token are refused.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import socket
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from cli_runs import run_cli
from PIL import Image

import nst.run.painting
import nst.web.server
from nst.cli.main import OptionError, parse_command
from nst.cli.options import web_address
from nst.errors import InputError
from nst.watching import Iterate, RunEnd, RunStart
from nst.web.server import LiveServer
from nst.web.state import LiveState


def tiny_run(content, style, weights, output, iterations=6) -> list:
    """Arguments of a run on a 32x24 image saving every 2nd iterate."""
    return [content, style, "--weights", weights, "--width", 32, "--height", 24,
            "--iterations", iterations, "--save-every", 2, "--seed", 1,
            "--output-dir", output]  # fmt: skip


# 1. The address


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("9000", ("127.0.0.1", 9000)),
        ("0", ("127.0.0.1", 0)),
        ("localhost:8081", ("localhost", 8081)),
        ("0.0.0.0:80", ("0.0.0.0", 80)),
        ("[::1]:9000", ("::1", 9000)),
    ],
)
def test_the_web_address_is_a_port_or_a_host_and_a_port(text, address):
    assert web_address(text) == address


@pytest.mark.parametrize("text", ["http", "65536", "-1", ":80", "host:port"])
def test_a_web_address_that_is_no_port_is_refused(text):
    with pytest.raises(ValueError):
        web_address(text)


def test_web_alone_listens_on_the_loopback_at_8080_and_only_for_a_run_of_one_image(tmp_path):
    job = parse_command(["a.png", "b.png", "--web", "--output-dir", str(tmp_path / "o")])
    assert job.web == ("127.0.0.1", 8080)
    assert parse_command(["a.png", "b.png", "--output-dir", str(tmp_path / "o")]).web is None
    assert parse_command(["--resume", str(tmp_path), "--web", "9000"]).web == ("127.0.0.1", 9000)
    with pytest.raises(OptionError, match="--web"):
        parse_command(["--batch-content", str(tmp_path), "--batch-style", str(tmp_path), "--web"])
    with pytest.raises(OptionError, match="--web"):
        parse_command(["--check-weights", "--web"])


def test_a_taken_port_gives_the_next_free_one(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with LiveServer("127.0.0.1", port, LiveState(), lambda: None) as server:
            assert server.port != port
            assert port < server.port <= port + nst.web.server.PORT_TRIES
            assert server.url == f"http://127.0.0.1:{server.port}/"


@pytest.mark.parametrize(
    ("host", "reason"),
    [("203.0.113.9", "cannot listen there"), ("no-such-host.invalid", "no such host")],
)
def test_an_address_that_cannot_be_listened_on_is_refused_naming_web(host, reason):
    with pytest.raises(InputError) as refused:
        LiveServer(host, 8080, LiveState(), lambda: None)
    assert str(refused.value).startswith(f"--web {host}:8080: {reason}")


@pytest.mark.usefixtures("weights_read_once")  # see conftest.py
def test_a_run_whose_address_cannot_be_listened_on_ends_at_once_with_one_line(
    tiny_images, vgg19_mat, tmp_path, capsys
):
    argv = tiny_run(*tiny_images, vgg19_mat, tmp_path / "out") + ["--web", "203.0.113.9:8080"]
    assert run_cli(*argv) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("neural_art.py: error: --web 203.0.113.9:8080: cannot listen")
    assert captured.err.count("\n") == 1
    assert "Loading" not in captured.out and not (tmp_path / "out").exists()


# 2. A watched run


def result_files(folder: Path) -> dict[str, bytes]:
    """The run's images: every PNG and JPEG in its folder, with its bytes."""
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.suffix in (".png", ".jpg")}


@pytest.mark.usefixtures("weights_read_once")  # see conftest.py
def test_a_run_with_the_live_view_paints_the_same_images_bit_for_bit(
    tiny_images, vgg19_mat, tmp_path, capsys
):
    assert run_cli(*tiny_run(*tiny_images, vgg19_mat, tmp_path / "plain")) == 0
    plain = capsys.readouterr().out
    assert run_cli(*tiny_run(*tiny_images, vgg19_mat, tmp_path / "web"), "--web", "0") == 0
    watched = capsys.readouterr().out
    assert watched.startswith("Live view: http://127.0.0.1:")
    assert watched.split("\n", 1)[1] == plain.replace("plain", "web")
    images = result_files(tmp_path / "plain")
    assert {"0.png", "2.png", "4.png", "generated_image.jpg"} <= set(images)
    assert result_files(tmp_path / "web") == images


@pytest.fixture
def live_servers(monkeypatch):
    """The LiveServers started in this test, as they start."""
    started = []
    start = LiveServer.start

    def recording_start(self):
        started.append(self)
        start(self)

    monkeypatch.setattr(LiveServer, "start", recording_start)
    return started


def post_stop(server: LiveServer, token: str | None = None) -> int:
    """POST /stop to `server` with the Stop token (or `token`); the answer's status."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port)
    with contextlib.closing(connection):
        token = server.stop_token if token is None else token
        connection.request("POST", "/stop", headers={"X-Live-Token": token})
        return connection.getresponse().status


@pytest.mark.usefixtures("weights_read_once")  # see conftest.py
def test_stop_ends_the_run_after_the_iteration_with_its_result_and_exit_status_0(
    tiny_images, vgg19_mat, tmp_path, monkeypatch, live_servers, capsys
):
    stylize = nst.run.painting.stylize

    def stopped_at_3(*args, **kwargs):
        for step in stylize(*args, **kwargs):
            if step.i == 3:  # pressed while iteration 3 is under way
                assert post_stop(live_servers[0]) == 200
            yield step

    monkeypatch.setattr(nst.run.painting, "stylize", stopped_at_3)
    out = tmp_path / "out"
    assert run_cli(*tiny_run(*tiny_images, vgg19_mat, out, iterations=50), "--web", "0") == 0
    printed = capsys.readouterr().out
    assert "Stopped from the live view after iteration 3 of 50" in printed
    assert f"Done: {out / 'generated_image.jpg'}" in printed
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "finished"
    assert manifest["last_checkpoint"]["iteration"] == 3
    with np.load(out / "checkpoint.npz") as checkpoint:
        assert int(checkpoint["i"]) == 3
    assert {"0.png", "2.png", "generated_image.jpg"} <= set(result_files(out))
    assert "4.png" not in result_files(out)


class Recorder:
    """A watcher that keeps what it was told."""

    def __init__(self):
        self.calls = []

    def start(self, run):
        self.calls.append(("start", run))

    def step(self, iterate):
        self.calls.append(("step", iterate))

    def end(self, end):
        self.calls.append(("end", end))


@pytest.mark.usefixtures("weights_read_once")  # see conftest.py
def test_a_watcher_sees_the_start_each_iterate_with_its_saved_file_and_the_end(
    tiny_images, vgg19_mat, tmp_path, capsys
):
    from nst.run.image_job import run

    out = tmp_path / "out"
    recorder = Recorder()
    run(parse_command(list(map(str, tiny_run(*tiny_images, vgg19_mat, out, 5)))),
        watchers=[recorder])  # fmt: skip
    kinds = [kind for kind, _ in recorder.calls]
    assert kinds == ["start", "step", "step", "step", "step", "step", "end"]
    start = recorder.calls[0][1]
    assert (start.total, start.first, start.size, start.tile) == (5, 0, (32, 24), None)
    assert start.folder == out and start.content.shape == (30, 40, 3)
    steps = [iterate for kind, iterate in recorder.calls if kind == "step"]
    assert [s.done for s in steps] == [1, 2, 3, 4, 5]
    assert [s.saved for s in steps] == [out / "0.png", None, out / "2.png", None, out / "4.png"]
    assert [s.costs is not None for s in steps] == [True, False, True, False, True]
    for s in steps[::2]:
        with Image.open(s.saved) as saved:
            assert np.array_equal(np.asarray(saved), s.image)
    assert recorder.calls[-1][1] == RunEnd("finished", "", out / "generated_image.jpg")


# 3. What is served, and to whom


SECRET = b"a file outside the run folder"


@pytest.fixture
def served(tmp_path):
    """A live view on a free loopback port of a run in tmp_path / "run" (with 0.png and a
    link "out.png" to tmp_path / "secret.png"), one iterate in."""
    folder = tmp_path / "run"
    folder.mkdir()
    picture = np.zeros((6, 8, 3), np.uint8)
    picture[:, :4] = 200
    Image.fromarray(picture).save(folder / "0.png")
    (tmp_path / "secret.png").write_bytes(SECRET)
    (folder / "out.png").symlink_to(tmp_path / "secret.png")
    (folder / "notes.txt").write_text("not an image")
    state = LiveState()
    state.start(RunStart(3, 0, (8, 6), (((8, 6), 3),), (48.0,) * 3, None, picture,
                         (picture[:, ::-1],), folder))  # fmt: skip
    state.step(Iterate(0, 1, 3, 12.5, {"total": 12.5}, picture, 0, folder / "0.png"))
    stops = []
    with LiveServer("127.0.0.1", 0, state, lambda: stops.append(True)) as server:
        server.start()
        server.stops = stops
        yield server


def get(server: LiveServer, target: str, host: str | None = None, headers=None):
    """GET `target` (sent as it is) from `server`: (status, body)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port)
    with contextlib.closing(connection):
        connection.putrequest("GET", target, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", f"127.0.0.1:{server.port}" if host is None else host)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        connection.endheaders()
        answer = connection.getresponse()
        return answer.status, answer.read()


def raw(server: LiveServer, request: bytes) -> bytes:
    """What `server` answers to the bytes `request`."""
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        s.sendall(request)
        s.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
        return answer


def test_the_page_its_assets_the_images_and_the_inputs_are_served(served):
    status, page = get(served, "/")
    assert status == 200 and b'<script src="/live.js"' in page
    assert served.stop_token.encode() in page
    assert get(served, "/live.js")[0] == get(served, "/live.css")[0] == 200
    status, saved = get(served, "/run/0.png")
    assert status == 200 and saved == (served.state.folder() / "0.png").read_bytes()
    for target in ("/image.png", "/input/content.png"):
        status, body = get(served, target)
        assert status == 200
        picture = np.asarray(Image.open(io.BytesIO(body)))
        assert picture.shape == (6, 8, 3) and picture[0, 0, 0] == 200
    status, style = get(served, "/input/style-0.png")
    assert status == 200 and np.asarray(Image.open(io.BytesIO(style)))[0, -1, 0] == 200


@pytest.mark.parametrize(
    "target",
    [
        "/run/../secret.png",
        "/run/%2e%2e/secret.png",
        "/run/..%2fsecret.png",
        "/run/%2E%2E%2Fsecret.png",
        "/run/%252e%252e%252fsecret.png",
        "/run//etc/passwd",
        "/run/%2fetc%2fpasswd",
        "/run/out.png",  # a link out of the folder
        "/run/notes.txt",
        "/run/.png",
        "/run/0.png%00.txt",
        "/run/%ff.png",
        "/../secret.png",
        "/input/../secret.png",
        "/input/style-1.png",
        "/static/live.js",
        "/live.js/..",
        "/nst/web/server.py",
        "/etc/passwd",
    ],
)
def test_paths_out_of_the_run_folder_and_unknown_paths_are_not_found(served, target):
    status, body = get(served, target)
    assert status == 404, target
    assert SECRET not in body and b"root:" not in body


@pytest.mark.parametrize(
    "target", ["http://127.0.0.1/etc/passwd", "etc/passwd", "*", "/run/" + "a" * 5000 + ".png"]
)
def test_absolute_and_over_long_targets_are_bad_requests(served, target):
    status, body = get(served, target)
    assert status == 400 and SECRET not in body


@pytest.mark.parametrize(
    "request_line",
    [b"GET\r\n\r\n", b"GET /run/0.png HTTP/9.9\r\n\r\n", b"\x16\x03\x01\x00\xa5\x01\r\n\r\n",
     b"GET /run/0.png HTTP/1.1 extra\r\n\r\n", b"GET " + b"/a" * 40000 + b" HTTP/1.1\r\n\r\n",
     b"GET /run/0.png HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
     b"POST /stop HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n"],
)  # fmt: skip
def test_malformed_requests_are_refused(served, request_line):
    answer = raw(served, request_line)
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else None
    assert status in (400, 414, 505, None)
    assert SECRET not in answer and b"\x89PNG" not in answer


@pytest.mark.parametrize("method", ["PUT", "DELETE", "OPTIONS", "HEAD", "PATCH"])
def test_only_get_and_post_exist(served, method):
    connection = http.client.HTTPConnection("127.0.0.1", served.port)
    with contextlib.closing(connection):
        connection.request(method, "/run/0.png")
        assert connection.getresponse().status in (405, 501)
    assert served.stops == []


def test_post_exists_only_for_stop_and_stop_needs_the_pages_token(served):
    connection = http.client.HTTPConnection("127.0.0.1", served.port)
    with contextlib.closing(connection):
        connection.request("POST", "/run/0.png", headers={"X-Live-Token": served.stop_token})
        assert connection.getresponse().status == 404
    assert post_stop(served, token="") == 403
    assert post_stop(served, token=served.stop_token[:-1] + "x") == 403
    assert served.stops == []
    assert post_stop(served) == 200
    assert served.stops == [True]


@pytest.mark.parametrize("host", ["evil.example:{port}", "127.0.0.1:1", "", "localhost.x:{port}"])
def test_another_host_name_is_forbidden_on_the_loopback(served, host):
    """A DNS-rebinding page reaches 127.0.0.1 under its own name, which the Host header says."""
    status, body = get(served, "/", host=host.format(port=served.port))
    assert status == 403 and served.stop_token.encode() not in body
    connection = http.client.HTTPConnection("127.0.0.1", served.port)
    with contextlib.closing(connection):
        connection.putrequest("POST", "/stop", skip_host=True)
        connection.putheader("Host", host.format(port=served.port))
        connection.putheader("X-Live-Token", served.stop_token)
        connection.endheaders()
        assert connection.getresponse().status == 403
    assert served.stops == []


def test_the_loopbacks_own_names_are_accepted(served):
    for name in ("localhost", "127.0.0.1", "[::1]"):
        assert get(served, "/", host=f"{name}:{served.port}")[0] == 200


def test_on_another_host_every_request_needs_the_urls_token(served):
    state = served.state
    with LiveServer("0.0.0.0", 0, state, lambda: None) as server:
        server.start()
        assert server.token and server.url.endswith(f"/?token={server.token}")
        host = f"127.0.0.1:{server.port}"
        for target in ("/", "/live.js", "/run/0.png", "/image.png", "/events"):
            assert get(server, target, host)[0] == 403, target
            assert get(server, f"{target}?token=wrong", host)[0] == 403, target
        assert get(server, "/run/0.png?token=" + server.token, host)[0] == 200
        cookie = {"Cookie": f"{nst.web.server.COOKIE}={server.token}"}
        assert get(server, "/run/0.png", host, cookie)[0] == 200
        connection = http.client.HTTPConnection("127.0.0.1", server.port)
        with contextlib.closing(connection):
            connection.request("GET", "/?token=" + server.token)
            answer = connection.getresponse()
            assert answer.status == 200
            assert f"{nst.web.server.COOKIE}={server.token}" in answer.getheader("Set-Cookie")
            assert "SameSite=Strict" in answer.getheader("Set-Cookie")


def test_the_event_stream_sends_the_progress_the_image_and_the_end(served):
    served.state.end(RunEnd("finished", "", served.state.folder() / "0.png"))
    url = f"http://127.0.0.1:{served.port}/events"
    with urllib.request.urlopen(url) as stream:
        text = stream.read().decode()  # the stream closes after the end
    events = [block.split("\n") for block in text.strip().split("\n\n")]
    names = [lines[0].removeprefix("event: ") for lines in events]
    assert names == ["progress", "image", "end"]
    progress = json.loads(events[0][1].removeprefix("data: "))
    assert (progress["done"], progress["total"], progress["J"]) == (1, 3, 12.5)
    assert progress["points"] == [[0, 12.5]] and progress["saved"] == "0.png"
    image = json.loads(events[1][1].removeprefix("data: "))
    assert image["iteration"] == 0 and image["src"].startswith("data:image/jpeg;base64,")
    end = json.loads(events[2][1].removeprefix("data: "))
    assert (end["status"], end["result"]) == ("finished", "0.png")
