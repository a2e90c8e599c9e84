"""A clip: every frame of a video file or a folder of frames painted, steady from frame to frame.

    neural_art.py FRAMES_FOLDER STYLE --fps 12 --frames 1:4 --temporal-weight W

paints the frames in order into the run folder's frames/ (00001.png, ...), and at the end
writes stylized.mp4 and side_by_side.mp4 (H.264 at the clip's frame rate) and costs.png
(each frame's final costs). The first frame is painted as an image is; each later one
starts from the previous result carried along the optical flow, with --frame-iterations
iterations and the temporal cost in J. Ctrl-C keeps the finished frames, and --resume
continues from the first unfinished one with the same result as an uninterrupted run.
"""

import contextlib
import io
import json
import math
import os
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from cli_runs import run_cli
from PIL import Image

import nst.run.clip_folder
import nst.run.image_job
from nst.level_costs import KeptStyleTargets
from nst.memory import HEADROOM, MIN_TILE, estimate_peak_bytes
from nst.run.clip_passes import pass_groups
from nst.settings import Settings
from nst.video.clip_files import open_clip, write_clip
from nst.video.frame_start import frame_start
from nst.video.passes import pass_direction, pass_start

SIZE = ["--width", 32, "--height", 24]
CLIP_OPTIONS = ["--iterations", 4, "--frame-iterations", 2, "--save-every", 2, "--seed", 3,
                "--fps", 12]  # fmt: skip


def texture(height: int, width: int, seed: int) -> np.ndarray:
    """Smooth random colours with fine noise: something an optical flow can follow."""
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray((rng.random((5, 6, 3)) * 255).astype(np.uint8))
    smooth = np.asarray(coarse.resize((width, height), Image.BILINEAR), np.float64)
    return np.clip(smooth + rng.normal(0, 12, (height, width, 3)), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def frames_folder(tmp_path_factory):
    """A folder of 4 frames (40x30) of a texture moving 2 pixels right per frame."""
    folder = tmp_path_factory.mktemp("clip")
    scene = texture(30, 48, seed=4)
    for n in range(4):
        Image.fromarray(scene[:, 8 - 2 * n : 48 - 2 * n]).save(folder / f"frame{n + 1}.png")
    return folder


def paint(frames_folder, tiny_images, vgg19_mat, out, *options) -> tuple:
    """The folder of the clip painted without interruption into `out`, with the options, and
    what it printed."""
    with contextlib.redirect_stdout(io.StringIO()) as stdout:
        status = run_cli(frames_folder, tiny_images[1], "--weights", vgg19_mat, *SIZE,
                         *CLIP_OPTIONS, *options, "--output-dir", out)  # fmt: skip
    assert status == 0
    return out, stdout.getvalue()


@pytest.fixture(scope="module")
def painted(frames_folder, tiny_images, vgg19_mat, tmp_path_factory):
    """The folder of the clip painted in order, and what it printed."""
    out = tmp_path_factory.mktemp("painted") / "run"
    return paint(frames_folder, tiny_images, vgg19_mat, out)


def test_each_frame_is_painted_into_frames_and_the_clip_into_two_mp4_files(painted):
    out, stdout = painted
    frames = sorted(p.name for p in (out / "frames").iterdir())
    assert frames == ["00001.png", "00002.png", "00003.png", "00004.png"]
    assert all(Image.open(out / "frames" / name).size == (32, 24) for name in frames)
    stylized = open_clip(out / "stylized.mp4")
    assert (stylized.frame_count, stylized.fps) == (4, Fraction(12))
    assert (stylized.width, stylized.height) == (32, 24)
    side = open_clip(out / "side_by_side.mp4")  # the 40x30 input at 24 rows beside the result
    assert (side.frame_count, side.width, side.height) == (4, 64, 24)
    assert (out / "costs.png").is_file()
    assert "Frame 4/4: " in stdout and f"Done: {out}" in stdout


def test_later_frames_start_from_the_previous_result_and_pay_the_temporal_cost(painted):
    out, _ = painted
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["kind"], manifest["status"]) == ("clip", "finished")
    frames = manifest["frames"]
    assert [f["iterations"] for f in frames] == [4, 2, 2, 2]
    assert "temporal" not in frames[0]["costs"]
    assert all(f["costs"]["temporal"] > 0 for f in frames[1:])
    assert all(0.5 < f["certain"] <= 1 for f in frames[1:])  # the texture moves 2 px of 32
    assert manifest["clip"]["frames"] == [1, 4]


def test_ctrl_c_keeps_the_finished_frames_and_resume_gives_the_uninterrupted_result(
    painted, frames_folder, tiny_images, vgg19_mat, tmp_path, monkeypatch, capsys
):
    out = tmp_path / "run"
    add_frame = nst.run.clip_folder.ClipFolder.add_frame

    def stopped_after_two(self, *args):
        kept = add_frame(self, *args)
        if self.done == 2:
            raise KeyboardInterrupt  # as Ctrl-C right after frame 2 is kept
        return kept

    monkeypatch.setattr(nst.run.clip_folder.ClipFolder, "add_frame", stopped_after_two)
    status = run_cli(frames_folder, tiny_images[1], "--weights", vgg19_mat, *SIZE,
                     *CLIP_OPTIONS, "--output-dir", out)  # fmt: skip
    err = capsys.readouterr().err
    assert status == 130
    assert "interrupted in frame 3 of 4; the 2 frames finished are in" in err
    assert f"--resume {out}" in err
    assert sorted(p.name for p in (out / "frames").iterdir()) == ["00001.png", "00002.png"]
    assert json.loads((out / "manifest.json").read_text())["status"] == "interrupted"

    monkeypatch.setattr(nst.run.clip_folder.ClipFolder, "add_frame", add_frame)
    assert run_cli("--resume", out) == 0
    uninterrupted, _ = painted
    for n in range(1, 5):
        name = f"frames/{n:05d}.png"
        assert (out / name).read_bytes() == (uninterrupted / name).read_bytes(), name


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--frames", "3:9"], "--frames 3:9: clip {clip} has 4 frames (1 to 4)"),
        (["--frames", "0:2"], "argument --frames: '0:2': frames are numbered from 1"),
        (["--frames", "3:2"], "argument --frames: '3:2': the first frame comes after the last"),
        (["--fps", "0"], "argument --fps: '0': a frame rate must be above 0"),
        (["--temporal-weight", "-1"], "argument --temporal-weight: '-1': must be a finite"),
        (["--flow", "lk"], "argument --flow: 'lk' is not dis or farneback"),
    ],
)
def test_bad_clip_options_get_one_line_and_status_2(
    options, message, frames_folder, tiny_images, vgg19_mat, tmp_path, capsys
):
    status = run_cli(frames_folder, tiny_images[1], "--weights", vgg19_mat, *SIZE, *options,
                     "--output-dir", tmp_path / "run")  # fmt: skip
    err = capsys.readouterr().err
    assert status == 2
    assert message.format(clip=frames_folder) in err
    assert err.count("\n") == 1
    assert not (tmp_path / "run").exists()


def test_clip_options_with_an_image_content_are_refused(tiny_images, capsys):
    assert run_cli(*tiny_images, "--fps", "24") == 2
    assert "--fps is for a clip: give a video file or a folder of frames" in capsys.readouterr().err


def test_a_video_files_frame_rate_is_its_own(tmp_path, tiny_images, vgg19_mat, capsys):
    """--fps gives a folder of frames its rate; a video file's frames come with their times."""
    video = tmp_path / "clip.mp4"
    write_clip(video, [texture(24, 32, seed=n) for n in range(2)], Fraction(12))
    status = run_cli(video, tiny_images[1], "--weights", vgg19_mat, "--fps", "24",
                     "--output-dir", tmp_path / "run")  # fmt: skip
    err = capsys.readouterr().err
    assert (status, err.count("\n")) == (2, 1), err
    assert f"--fps 24: {video} is a video file, whose frames come at their own rate (12 per " in err
    assert not (tmp_path / "run").exists()


def test_a_finished_clip_is_not_resumed_and_a_clips_resume_takes_no_iterations(painted, capsys):
    out, _ = painted
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    assert run_cli("--resume", out) == 2
    err = capsys.readouterr().err
    assert err == (
        f"neural_art.py: error: --resume {out}: the clip is finished, its 4 frames and "
        "stylized.mp4 written; nothing is left to paint\n"
    )
    assert run_cli("--resume", out, "--iterations", 9) == 2
    err = capsys.readouterr().err
    assert "only --weights, --workers, --ray-address and --retries may be given with it" in err
    assert "not --iterations" in err
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before


def test_a_folder_without_frames_is_refused_before_anything_is_written(
    tmp_path, tiny_images, vgg19_mat, capsys
):
    empty = tmp_path / "empty"
    empty.mkdir()
    status = run_cli(empty, tiny_images[1], "--weights", vgg19_mat, "--output-dir",
                     tmp_path / "run")  # fmt: skip
    assert status == 2
    assert f"folder {empty} holds no frames" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_a_later_frame_starts_from_the_previous_result_carried_along_the_motion():
    """The scene moves 3 pixels right: the start is the previous result moved 3 pixels right;
    the strip the previous frame did not show repeats the strokes beside it."""
    scene = texture(40, 60, seed=8)
    previous, current = scene[:, 6:54], scene[:, 3:51]  # the view moves 3 px left
    result = texture(40, 60, seed=9)[:, 6:54]  # the previous frame's painting

    def identity(rgb):
        return rgb[None].astype(np.float32)

    start = frame_start(current, {1: (previous, result)}, identity, weight=5.0)
    image = start.image[0]
    inside = (slice(4, -4), slice(8, -4))  # away from the borders and the new strip
    expected = np.zeros_like(image)
    expected[:, 3:] = result[:, :-3]
    assert np.abs(image - expected)[inside].mean() < 2
    assert start.certain < 1 - 2 / 48  # the new strip (3 of 48 columns) is not certain
    assert start.temporal.weight == 5.0
    assert np.abs(start.temporal.warped[0][0] - expected)[inside].mean() < 2
    assert 0.8 < start.certain < 1


def test_style_targets_are_computed_once_for_the_frames_that_share_them():
    kept, computed = KeptStyleTargets(), []

    def compute(name):
        computed.append(name)
        return [name]

    assert kept.get(("styles", (32, 24)), lambda: compute("a")) == ["a"]
    assert kept.get(("styles", (32, 24)), lambda: compute("b")) == ["a"]  # kept
    assert kept.get(("styles", (64, 48)), lambda: compute("c")) == ["c"]  # another size
    assert computed == ["a", "c"]


# Passes: pass 1 paints each frame on its own, each later pass every frame from the pass before

PASSES = ["--passes", 2, "--threads", 1]


@pytest.fixture(scope="module")
def in_passes(frames_folder, tiny_images, vgg19_mat, tmp_path_factory):
    """The folder of the clip painted in 2 passes in this process, and what it printed."""
    out = tmp_path_factory.mktemp("passes") / "run"
    return paint(frames_folder, tiny_images, vgg19_mat, out, *PASSES)


def test_in_passes_each_frame_is_painted_once_per_pass_and_the_last_pass_kept(in_passes):
    out, stdout = in_passes
    assert sorted(p.name for p in (out / "frames").iterdir()) == [
        "00001.png", "00002.png", "00003.png", "00004.png"
    ]  # fmt: skip
    assert not (out / "passes").exists()  # each pass's frames removed once the next is done
    for number in (1, 2):
        for n in (1, 2, 3, 4):
            assert f"Pass {number}/2, frame {n}/4: " in stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["clip"]["passes"] == 2
    assert [len(frames) for frames in manifest["passes"]] == [4, 4]
    first, *later = manifest["passes"]
    assert all(f["iterations"] == 4 and "temporal" not in f["costs"] for f in first.values())
    for frames in later:  # from the pass before, held to both neighbours
        assert all(f["iterations"] == 2 and f["costs"]["temporal"] > 0 for f in frames.values())
    assert [f["file"] for f in manifest["frames"]] == [f"frames/{n:05d}.png" for n in range(1, 5)]
    assert [f["costs"] for f in manifest["frames"]] == [
        later[-1][str(n)]["costs"] for n in range(1, 5)
    ]
    assert open_clip(out / "stylized.mp4").frame_count == 4


def test_a_later_pass_starts_from_the_frame_blended_with_its_neighbour_along_the_motion():
    """Forwards (pass 2), frame t starts half way between its own result and the result of
    t - 1 carried along the flow, where the flow is certain; its own result in the strip
    that t - 1 did not show. Both neighbours are temporal targets."""
    scene = texture(40, 60, seed=8)
    before, frame, after = scene[:, 6:54], scene[:, 3:51], scene[:, 0:48]  # view moves 3 px left
    paintings = texture(40, 66, seed=9)
    own, left, right = paintings[:, 9:57], paintings[:, 12:60], paintings[:, 6:54]

    def identity(rgb):
        return rgb[None].astype(np.float32)

    assert (pass_direction(2), pass_direction(3), pass_direction(4)) == (-1, 1, -1)
    assert pass_groups(1, 5) == [[1, 2, 3, 4, 5]]  # each on its own, all at once
    assert pass_groups(2, 5) == [[1, 3, 5], [2, 4]]  # the odd ones, then the even from them
    start = pass_start(frame, own, {-1: (before, left), 1: (after, right)}, -1, identity, 7.0)
    carried = np.zeros((40, 48, 3), np.float32)
    carried[:, 3:] = left[:, :-3]
    expected = (own + carried) / 2
    inside = (slice(4, -4), slice(8, -8))  # away from the borders and the new strip
    assert np.abs(start.image[0] - expected)[inside].mean() < 2
    assert np.abs(start.image[0] - own)[:, :2].mean() < 1  # not shown by t - 1: its own
    assert start.temporal.weight == 7.0 and len(start.temporal.warped) == 2
    assert 0.8 < start.certain < 1 - 2 / 48


def test_ctrl_c_in_a_pass_keeps_its_finished_frames_and_resume_gives_the_uninterrupted_result(
    in_passes, frames_folder, tiny_images, vgg19_mat, tmp_path, monkeypatch, capsys
):
    out = tmp_path / "run"
    add_pass_frame = nst.run.clip_folder.ClipFolder.add_pass_frame

    def stopped_in_pass_two(self, number, painted):
        kept = add_pass_frame(self, number, painted)
        if (number, len(self.pass_frames(number))) == (2, 2):
            raise KeyboardInterrupt  # as Ctrl-C right after pass 2's second frame is kept
        return kept

    monkeypatch.setattr(nst.run.clip_folder.ClipFolder, "add_pass_frame", stopped_in_pass_two)
    status = run_cli(frames_folder, tiny_images[1], "--weights", vgg19_mat, *SIZE,
                     *CLIP_OPTIONS, *PASSES, "--output-dir", out)  # fmt: skip
    err = capsys.readouterr().err
    assert status == 130
    assert "interrupted in pass 2 of 2, with 2 of its 4 frames finished" in err
    # the odd frames first, then the even ones from them
    assert sorted(p.name for p in (out / "passes" / "2").iterdir()) == ["00001.png", "00003.png"]
    assert len(list((out / "passes" / "1").iterdir())) == 4  # what pass 2 starts from

    monkeypatch.setattr(nst.run.clip_folder.ClipFolder, "add_pass_frame", add_pass_frame)
    assert run_cli("--resume", out) == 0
    uninterrupted, _ = in_passes
    for n in range(1, 5):
        name = f"frames/{n:05d}.png"
        assert (out / name).read_bytes() == (uninterrupted / name).read_bytes(), name


def parent(pid: int) -> int:
    """The process id of process `pid`'s parent (/proc/PID/stat: pid (name) state ppid ...)."""
    return int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])


def frame_workers() -> list[int]:
    """The Ray worker processes under this one that are painting a frame now (Ray names a
    worker process after the task it runs)."""
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):  # a process that has ended meanwhile
            if not entry.name.isdigit():
                continue
            if not (entry / "cmdline").read_bytes().startswith(b"ray::paint_frame_task"):
                continue
            pid = int(entry.name)
            while pid > 1 and pid != os.getpid():  # up its parents, to this process or init
                pid = parent(pid)
            if pid == os.getpid():
                found.append(int(entry.name))
    return found


@contextlib.contextmanager
def killing_a_frame_worker() -> Iterator[list[int]]:
    """While the block runs, SIGKILL the first Ray worker seen painting a frame (a fresh
    worker loads TensorFlow and builds the frame's graph first: seconds in which it paints);
    the list of the killed process's id."""
    killed, ended = [], threading.Event()

    def kill_one() -> None:
        while not ended.is_set():
            workers = frame_workers()
            if workers:
                os.kill(workers[0], signal.SIGKILL)
                killed.append(workers[0])
                return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_one)
    killer.start()
    try:
        yield killed
    finally:
        ended.set()
        killer.join()


DIED = re.compile(r"^Pass 1/2, frame (\d)/4: its Ray worker died \((\d) times?\); (.*)$", re.M)
"""The line printed when a frame's worker dies: the frame, its deaths and what follows."""


@pytest.fixture(scope="module")
def on_ray(frames_folder, tiny_images, vgg19_mat, tmp_path_factory, ray_env):
    """The clip painted in 2 passes on Ray, 2 frames at a time, one frame's worker killed
    while it paints; the folder, what it printed and the killed worker's process id."""
    out = tmp_path_factory.mktemp("on-ray") / "run"
    with killing_a_frame_worker() as killed:
        out, stdout = paint(frames_folder, tiny_images, vgg19_mat, out, *PASSES, "--workers", 2)
    return out, stdout, killed


def same_frames(folder: Path, other: Path) -> None:
    """Assert that the clips' frames match (measured on a Zen 3, painted on Ray or in this
    process: the same bytes; other kernels may round otherwise)."""
    for n in range(1, 5):
        ours = np.asarray(Image.open(folder / f"frames/{n:05d}.png"), np.float64)
        theirs = np.asarray(Image.open(other / f"frames/{n:05d}.png"), np.float64)
        assert np.abs(ours - theirs).mean() < 0.5, n


def test_on_ray_the_frames_of_a_pass_are_painted_at_once_as_in_this_process(in_passes, on_ray):
    out, stdout, _ = on_ray
    assert "in 2 passes on Ray on this machine, 2 at a time with 1 thread each" in stdout
    same_frames(out, in_passes[0])


def test_a_frame_whose_ray_worker_is_killed_is_painted_again(on_ray):
    _, stdout, killed = on_ray
    assert len(killed) == 1
    died = DIED.findall(stdout)
    assert len(died) == 1, stdout
    frame, deaths, then = died[0]
    assert (deaths, then) == ("1", "it is painted again")
    assert stdout.count(f"Pass 1/2, frame {frame}/4: total ") == 1  # painted, once
    assert stdout.count("Pass 2/2, frame ") == 4


def test_a_frame_whose_ray_worker_died_past_retries_ends_the_clip_keeping_the_others(
    in_passes, frames_folder, tiny_images, vgg19_mat, tmp_path, ray_env, capsys
):
    """--retries 0: the first death ends the clip, once the frames in flight and the rest of
    pass 1 are painted; --resume (here in this process) paints what is missing."""
    out = tmp_path / "run"
    with killing_a_frame_worker() as killed:
        status = run_cli(frames_folder, tiny_images[1], "--weights", vgg19_mat, *SIZE,
                         *CLIP_OPTIONS, *PASSES, "--workers", 2, "--retries", 0,
                         "--output-dir", out)  # fmt: skip
    stdout, err = capsys.readouterr()
    assert status == 1 and len(killed) == 1
    ((frame, deaths, then),) = DIED.findall(stdout)
    assert (deaths, then) == ("1", "the clip stops once the others are painted")
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"neural_art.py: frame {frame} of 4, in pass 1 of 2: its Ray worker "
                          "died 1 time (the last: ")  # fmt: skip
    assert (f"--retries 0); pass 1 has 3 of its 4 frames finished; continue with: "
            f"{sys.executable} ") in err  # fmt: skip
    assert err.endswith(f"neural_art.py --resume {out}\n")
    kept = sorted(p.name for p in (out / "passes" / "1").iterdir())
    assert kept == [f"{n:05d}.png" for n in range(1, 5) if n != int(frame)]
    assert not (out / "passes" / "2").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert (
        manifest["status"] == "failed" and manifest["message"] == err[len("neural_art.py: ") : -1]
    )

    assert run_cli("--resume", out) == 0
    same_frames(out, in_passes[0])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            ["--workers", 2],
            "--workers paints a clip's passes on Ray, and this clip is painted in one pass",
        ),
        (["--passes", 2, "--frames", "2:2"], "--passes 2: one frame of {clip} is painted"),
        (["--passes", 0], "argument --passes: must be between 1 and 1000, not 0"),
        (["--passes", 2, "--retries", 1], "--retries says how many more times a frame whose"),
    ],
)
def test_bad_pass_options_get_one_line_and_status_2(
    options, message, frames_folder, tiny_images, vgg19_mat, tmp_path, capsys
):
    status = run_cli(frames_folder, tiny_images[1], "--weights", vgg19_mat, *SIZE, *options,
                     "--output-dir", tmp_path / "run")  # fmt: skip
    err = capsys.readouterr().err
    assert (status, err.count("\n")) == (2, 1), err
    assert message.format(clip=frames_folder) in err
    assert not (tmp_path / "run").exists()


def test_a_ray_address_where_no_cluster_answers_is_refused_before_the_weights_are_read(
    frames_folder, tiny_images, tmp_path, capsys
):
    """The weights here are missing, which would be refused (or downloaded, 510 MiB) next."""
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    status = run_cli(frames_folder, tiny_images[1], "--weights", tmp_path / "none.mat", *SIZE,
                     "--passes", 2, "--ray-address", f"127.0.0.1:{port}",
                     "--output-dir", tmp_path / "run")  # fmt: skip
    err = capsys.readouterr().err
    assert (status, err.count("\n")) == (2, 1), err
    assert f"--ray-address 127.0.0.1:{port}: no Ray cluster answers there" in err
    assert not (tmp_path / "run").exists()


def test_an_image_s_options_apply_to_every_frame(frames_folder, tiny_images, vgg19_mat, tmp_path):
    """L-BFGS-B, max pooling, two blended styles and the content's colours, on 2 frames: each
    frame keeps its content frame's chroma (Cb, Cr, BT.601) up to clipping and rounding."""
    out = tmp_path / "run"
    options = ["--optimizer", "lbfgs", "--pooling", "max", "--preserve-colors",
               "--style-blend-weights", "3,1", "--frames", "1:2"]  # fmt: skip
    with contextlib.redirect_stdout(io.StringIO()):
        status = run_cli(frames_folder, *tiny_images[::-1], "--weights", vgg19_mat, *SIZE,
                         *CLIP_OPTIONS, *options, "--output-dir", out)  # fmt: skip
    assert status == 0
    settings = json.loads((out / "manifest.json").read_text())["settings"]
    assert (settings["optimizer"], settings["pooling"], settings["preserve_colors"]) == (
        "lbfgs", "max", True
    )  # fmt: skip
    assert settings["style_blend_weights"] == [3, 1] and len(settings["styles"]) == 2
    to_chroma = np.array([[-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
    for n in (1, 2):
        content = np.asarray(Image.open(frames_folder / f"frame{n}.png").resize((32, 24)), float)
        result = np.asarray(Image.open(out / f"frames/{n:05d}.png"), float)
        assert np.abs(result - content).mean() > 5  # painted
        assert np.median(np.abs((result - content) @ to_chroma.T)) < 3, n


def test_a_clip_too_large_for_the_memory_is_refused_naming_a_size_that_fits(
    frames_folder, tiny_images, tmp_path, monkeypatch, capsys
):
    """As an image is (tests/test_memory.py): here with memory for a 4096x3072 frame in the
    smallest tiles, whatever the machine has."""
    available = math.ceil(estimate_peak_bytes(Settings(tile=MIN_TILE), (4096, 3072)) / HEADROOM)
    monkeypatch.setattr(nst.run.image_job, "available_bytes", lambda: available)
    out = tmp_path / "run"  # the 40x30 frames at --size 16384: 16384x12288
    status = run_cli(frames_folder, tiny_images[1], "--size", 16384, "--output-dir", out)
    err = capsys.readouterr().err
    assert (status, err.count("\n")) == (2, 1)
    assert "a 16384x12288 run needs about" in err and "--size 4096 or less fits" in err
    assert not out.exists()


def test_frames_painted_at_once_here_share_the_memory(
    frames_folder, tiny_images, tmp_path, monkeypatch, capsys
):
    """With --workers 4 on Ray started here, each frame has a quarter of the memory: a size
    that one frame at a time may paint is refused, before Ray starts."""
    available = math.ceil(estimate_peak_bytes(Settings(tile=MIN_TILE), (4096, 3072)) / HEADROOM)
    monkeypatch.setattr(nst.run.image_job, "available_bytes", lambda: available)
    out = tmp_path / "run"
    status = run_cli(frames_folder, tiny_images[1], "--size", 4096, "--passes", 2,
                     "--workers", 4, "--output-dir", out)  # fmt: skip
    err = capsys.readouterr().err
    assert (status, err.count("\n")) == (2, 1)
    assert "a 4096x3072 run needs about" in err
    assert err.rstrip().endswith("that is the share of each of 4 frames at once")
    assert not out.exists()
