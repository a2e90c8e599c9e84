"""Fetching weights from a local server: progress, resume, checksums, errors, nothing left over."""

import hashlib
import io

import numpy as np
import pytest
from terminal import FakeTerminal, screen
from weights_server import SilentServer, WeightsServer, closed_port_url

import neural_art
from nst.weights import sources as weights_sources
from nst.weights.download import DownloadBar, DownloadError, download
from nst.weights.sources import PublishedFile

PAYLOAD = np.random.default_rng(0).bytes(3 * 2**20 + 12345)
GENUINE = PublishedFile(
    "test weights", "http://example.org/w.mat", hashlib.md5(PAYLOAD).hexdigest()
)


@pytest.fixture
def server():
    server = WeightsServer(PAYLOAD)
    yield server
    server.close()


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir())


def test_a_full_download_reports_progress_and_lands_complete(server, tmp_path):
    seen = []
    destination = tmp_path / "cache" / "w.mat"
    result = download(server.url, destination, [GENUINE], progress=lambda d, t: seen.append((d, t)))
    assert result == GENUINE
    assert destination.read_bytes() == PAYLOAD
    assert leftovers(destination.parent) == ["w.mat"]
    assert seen[0] == (0, len(PAYLOAD)) and seen[-1] == (len(PAYLOAD), len(PAYLOAD))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and len(seen) >= 4


def test_an_interrupted_download_keeps_its_part_and_resumes(server, tmp_path):
    destination = tmp_path / "w.mat"
    server.cut_after = 2**20
    with pytest.raises(
        DownloadError,
        match=f"broke off at 1,048,576 of {len(PAYLOAD):,} bytes; run the same command",
    ):
        download(server.url, destination, [GENUINE])
    assert leftovers(tmp_path) == ["w.mat.part"]  # never a partial file at the final path
    assert (tmp_path / "w.mat.part").read_bytes() == PAYLOAD[: 2**20]
    seen = []
    download(server.url, destination, [GENUINE], progress=lambda d, t: seen.append((d, t)))
    assert server.ranges == [None, f"bytes={2**20}-"]
    assert seen[0] == (2**20, len(PAYLOAD))  # the first report is where it starts
    assert destination.read_bytes() == PAYLOAD
    assert leftovers(tmp_path) == ["w.mat"]


def test_a_server_that_ignores_the_range_gives_a_fresh_start(server, tmp_path):
    (tmp_path / "w.mat.part").write_bytes(b"stale bytes from elsewhere")
    server.honour_range = False
    download(server.url, tmp_path / "w.mat", [GENUINE])
    assert (tmp_path / "w.mat").read_bytes() == PAYLOAD


def test_a_whole_part_file_is_checked_and_moved(server, tmp_path):
    (tmp_path / "w.mat.part").write_bytes(PAYLOAD)
    download(server.url, tmp_path / "w.mat", [GENUINE])  # the server answers 416
    assert (tmp_path / "w.mat").read_bytes() == PAYLOAD


def test_a_file_with_an_unpublished_checksum_is_deleted(server, tmp_path):
    other = PublishedFile("other weights", "http://example.org/o.mat", "0" * 32)
    with pytest.raises(DownloadError, match="not a published VGG-19 file, so it was deleted"):
        download(server.url, tmp_path / "w.mat", [other])
    assert leftovers(tmp_path) == []


def test_by_default_only_the_published_vgg_files_are_accepted(server, tmp_path):
    with pytest.raises(DownloadError, match="not a published"):
        download(server.url, tmp_path / "w.mat")
    assert leftovers(tmp_path) == []


def test_a_404_names_the_url_and_the_manual_steps(server, tmp_path):
    with pytest.raises(DownloadError) as caught:
        download(server.missing_url, tmp_path / "w.mat", [GENUINE])
    message = str(caught.value)
    assert server.missing_url in message and "HTTP 404" in message
    assert "by hand" in message and str(tmp_path / "w.mat") in message
    assert leftovers(tmp_path) == []


def test_an_unreachable_server(tmp_path):
    url = closed_port_url()
    with pytest.raises(DownloadError, match="cannot reach the server"):
        download(url, tmp_path / "w.mat", [GENUINE])
    assert leftovers(tmp_path) == []


def test_a_failed_download_leaves_no_folder_it_made(tmp_path):
    cache = tmp_path / "home" / ".cache" / "neural-art"
    with pytest.raises(DownloadError) as caught:
        download(closed_port_url(), cache / "w.mat", [GENUINE])
    assert not (tmp_path / "home").exists()
    message = str(caught.value)
    assert "pretrained-model" in message and "$NEURAL_ART_WEIGHTS" in message


def test_a_server_that_never_answers_times_out(tmp_path):
    silent = SilentServer()
    try:
        with pytest.raises(DownloadError, match="cannot reach the server.*timed out"):
            download(silent.url, tmp_path / "w.mat", [GENUINE], timeout=0.5)
    finally:
        silent.close()
    assert leftovers(tmp_path) == []


def report_one_mib_a_second(stream, total, seconds=25):
    """A DownloadBar on `stream` through a download that resumes after the 4 MiB an earlier
    attempt left, then receives 1 MiB each second; the bar's `with` block ends with it."""
    now = [0.0]
    with DownloadBar(stream, clock=lambda: now[0]) as bar:
        bar(4 * 2**20, total)
        for second in range(1, seconds + 1):
            now[0] = float(second)
            bar((4 + second) * 2**20, total)
        return screen(stream.getvalue())  # before the end of the block


# tqdm's units: M is 2**20 bytes, MB/s 10**6 bytes a second (1 MiB/s = 1.05 MB/s).


def test_on_a_terminal_the_download_bar_shows_size_speed_and_time_left():
    terminal = FakeTerminal()
    shown = report_one_mib_a_second(terminal, 40 * 2**20, seconds=20)
    assert shown == [" 60%|######    | 24.0M/40.0M [00:20<00:16, 1.05MB/s]"]
    assert screen(terminal.getvalue()) == [shown[0], ""]  # the bar stays, on its own line


def test_off_a_terminal_the_download_prints_a_line_every_10_seconds():
    stream = io.StringIO()
    report_one_mib_a_second(stream, 40 * 2**20)
    assert stream.getvalue().splitlines(keepends=True) == [
        "35% 14.0M/40.0M [00:10<00:26, 1.05MB/s]\n",
        "60% 24.0M/40.0M [00:20<00:16, 1.05MB/s]\n",
    ]
    stream = io.StringIO()
    report_one_mib_a_second(stream, None)  # the server did not say the size
    assert stream.getvalue().splitlines() == [
        "14.0MB [00:10, 1.05MB/s]",
        "24.0MB [00:20, 1.05MB/s]",
    ]


@pytest.fixture
def genuine_payload(monkeypatch, tmp_path):
    """Accept PAYLOAD as published, and keep every search place inside tmp_path."""
    monkeypatch.setattr(weights_sources, "PUBLISHED", (GENUINE,))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(weights_sources, "PRETRAINED_DIR", tmp_path / "pretrained-model")
    monkeypatch.setattr(weights_sources.sys, "platform", "linux")
    return tmp_path / "cache" / "neural-art" / "imagenet-vgg-verydeep-19.mat"


def test_download_weights_command_fetches_into_the_cache(server, genuine_payload, capsys):
    assert neural_art.main(["--download-weights", "--weights-url", server.url]) == 0
    assert genuine_payload.read_bytes() == PAYLOAD
    out = capsys.readouterr().out
    assert f"Saved {genuine_payload}: the published test weights" in out


def test_offline_the_main_job_ends_with_what_to_do(tiny_images, genuine_payload, tmp_path, capsys):
    content, style = tiny_images
    url = closed_port_url()
    argv = [content, style, "--weights-url", url, "--output-dir", tmp_path / "o"]
    assert neural_art.main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"cannot download {url}" in err and "by hand" in err and str(genuine_payload) in err
    assert not genuine_payload.exists() and not genuine_payload.with_suffix(".mat.part").exists()


def test_the_main_job_fetches_missing_weights_then_runs(
    tiny_images, vgg19_mat, genuine_payload, tmp_path, monkeypatch, capsys
):
    real_looking = vgg19_mat.read_bytes()
    monkeypatch.setattr(
        weights_sources,
        "PUBLISHED",
        (PublishedFile("stand-in VGG-19", "x", hashlib.md5(real_looking).hexdigest()),),
    )
    server = WeightsServer(real_looking)
    try:
        content, style = tiny_images
        argv = [content, style, "--weights-url", server.url, "--width", 16, "--height", 16,
                "--iterations", 1, "--output-dir", tmp_path / "o"]  # fmt: skip
        assert neural_art.main([str(a) for a in argv]) == 0
    finally:
        server.close()
    assert genuine_payload.read_bytes() == real_looking
    out = capsys.readouterr().out
    assert "Downloading VGG-19 weights" in out and "Iteration 0 :" in out
    assert (tmp_path / "o" / "generated_image.jpg").is_file()
