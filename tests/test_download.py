"""Fetching weights from a local server: progress, resume, checksums, errors, nothing left over."""

import hashlib

import numpy as np
import pytest
from weights_server import SilentServer, WeightsServer, closed_port_url

import neural_art
from nst import weights_sources
from nst.download import DownloadError, ProgressBar, download
from nst.weights_sources import PublishedFile

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
    assert seen[-1] == (len(PAYLOAD), len(PAYLOAD))
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
    download(server.url, destination, [GENUINE])
    assert server.ranges == [None, f"bytes={2**20}-"]
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


def test_progress_bar_shows_size_speed_and_time_left(monkeypatch):
    lines = []
    clock = iter([0.0, 0.0, 1.0, 2.0])
    monkeypatch.setattr("nst.download.time.monotonic", lambda: next(clock))
    bar = ProgressBar(lines.append, min_interval=0)
    bar(0, 4 * 2**20)
    bar(2**20, 4 * 2**20)
    bar(2 * 2**20, 4 * 2**20)
    assert lines[-1] == "    2.0 MiB of 4.0 MiB ( 50%)    1.0 MiB/s  0:02 left"


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
