"""--network vgg16: VGG-16's weights are found, fetched, checked, read and run like VGG-19's.

VGG-16 is VGG-19 without conv3_4, conv4_4 and conv5_4. The stand-in files hold
random kernels with VGG-16's real shapes, in MatConvNet's and Keras' layouts.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from cli_runs import run_cli
from matconvnet_files import VGG16_BLOCKS, random_kernels, write_keras_h5, write_vgg_mat
from vgg_runs import model_activations
from weights_server import WeightsServer

from nst.memory import activation_values
from nst.networks import VGG16, VGG19
from nst.weights import sources as weights_sources
from nst.weights.formats import WeightsError
from nst.weights.guard import read_weights
from nst.weights.sources import PublishedFile, find_weights, published_files, search_order

VGG16_CONV_NAMES = [
    "conv1_1", "conv1_2",
    "conv2_1", "conv2_2",
    "conv3_1", "conv3_2", "conv3_3",
    "conv4_1", "conv4_2", "conv4_3",
    "conv5_1", "conv5_2", "conv5_3",
]  # fmt: skip
SMALL = ("--width", 16, "--height", 12, "--iterations", 2, "--save-every", 1, "--seed", 1)


@pytest.fixture(scope="session")
def vgg16_kernels():
    return random_kernels(seed=16, blocks=VGG16_BLOCKS)


@pytest.fixture(scope="session")
def vgg16_files(tmp_path_factory, vgg16_kernels) -> dict[str, Path]:
    """The stand-in VGG-16 weights in each format: {"mat": ..., "h5": ...}."""
    folder = tmp_path_factory.mktemp("vgg16")
    return {
        "mat": write_vgg_mat(folder / "imagenet-vgg-verydeep-16.mat", vgg16_kernels),
        "h5": write_keras_h5(folder / "vgg16_notop.h5", vgg16_kernels),
    }


@pytest.fixture(scope="session")
def vgg19_h5(tmp_path_factory, vgg_kernels) -> Path:
    return write_keras_h5(tmp_path_factory.mktemp("vgg19") / "vgg19_notop.h5", vgg_kernels)


def one_line(err: str) -> bool:
    return err.count("\n") == 1 and "Traceback" not in err


def manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


# 1. Reading: each format, VGG-16's thirteen layers


@pytest.mark.parametrize("kind", ["mat", "h5"])
def test_each_format_gives_vgg16s_thirteen_layers_as_written(vgg16_files, vgg16_kernels, kind):
    read = read_weights(vgg16_files[kind], VGG16)  # Keras' BGR conv1_1 comes back as RGB
    assert list(read) == VGG16_CONV_NAMES
    for name, (W, b) in vgg16_kernels.items():
        np.testing.assert_array_equal(read[name][0], W)
        np.testing.assert_array_equal(read[name][1], b)


def test_the_graph_has_vgg16s_layers_and_both_formats_give_its_activations(vgg16_files):
    image = np.random.default_rng(2).uniform(-120, 130, (1, 12, 10, 3))
    from_mat = model_activations(read_weights(vgg16_files["mat"], VGG16), image, "all", "max")
    from_h5 = model_activations(read_weights(vgg16_files["h5"], VGG16), image, "all", "max")
    assert list(from_mat) == [
        "conv1_1", "conv1_2", "maxpool1",
        "conv2_1", "conv2_2", "maxpool2",
        "conv3_1", "conv3_2", "conv3_3", "maxpool3",
        "conv4_1", "conv4_2", "conv4_3", "maxpool4",
        "conv5_1", "conv5_2", "conv5_3", "maxpool5",
    ]  # fmt: skip
    for layer, activation in from_mat.items():
        np.testing.assert_allclose(from_h5[layer], activation, rtol=1e-6, atol=1e-6)


# 2. Whole runs through the command line


@pytest.fixture(scope="module")
def vgg16_runs(vgg16_files, tiny_images, tmp_path_factory) -> dict[str, tuple]:
    """A small run with --network vgg16 on each file: {"mat": ..., "h5": ...}, each (its exit
    status, its output folder, what it printed)."""
    runs = {}
    for kind in ("mat", "h5"):
        out = tmp_path_factory.mktemp(f"vgg16-{kind}") / "out"
        argv = [*tiny_images, *SMALL, "--network", "vgg16", "--weights", vgg16_files[kind]]
        with contextlib.redirect_stdout(io.StringIO()) as printed:
            status = run_cli(*argv, "--output-dir", out)
        runs[kind] = status, out, printed.getvalue()
    return runs


@pytest.mark.parametrize("kind", ["mat", "h5"])
def test_a_vgg16_run_end_to_end(kind, vgg16_files, vgg16_runs):
    status, out, printed = vgg16_runs[kind]
    assert status == 0
    assert f"Loading VGG-16 from {vgg16_files[kind]}" in printed
    assert "Iteration 1 :" in printed
    assert (out / "generated_image.jpg").is_file()
    assert manifest(out)["settings"]["network"] == "vgg16"


def test_the_mat_and_the_h5_file_paint_the_same_image(vgg16_runs):
    (_, mat, _), (_, h5, _) = vgg16_runs["mat"], vgg16_runs["h5"]
    assert (mat / "1.png").read_bytes() == (h5 / "1.png").read_bytes()


def test_resume_continues_on_the_recorded_network(vgg16_files, tiny_images, tmp_path, capsys):
    out = tmp_path / "out"
    argv = [*tiny_images, *SMALL, "--network", "vgg16", "--weights", vgg16_files["mat"]]
    assert run_cli(*argv, "--output-dir", out) == 0
    assert run_cli("--resume", out, "--iterations", 4) == 0  # read as VGG-16 again
    assert "Iteration 3 :" in capsys.readouterr().out
    m = manifest(out)
    assert m["settings"]["network"] == "vgg16" and m["resumed"] == [1]
    assert m["status"] == "finished"


# 3. A file of the other network is refused in one line


@pytest.mark.parametrize("kind", ["mat", "h5"])
def test_a_vgg19_file_for_network_vgg16_is_refused_in_one_line(
    kind, vgg19_mat, vgg19_h5, tiny_images, tmp_path, capsys
):
    path = {"mat": vgg19_mat, "h5": vgg19_h5}[kind]
    argv = [*tiny_images, *SMALL, "--network", "vgg16", "--weights", path]
    assert run_cli(*argv, "--output-dir", tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert one_line(err)
    assert (
        f"weights file {path} holds VGG-19 (16 conv layers), not VGG-16: use it with "
        "--network vgg19, or download imagenet-vgg-verydeep-16.mat from "
        "https://www.vlfeat.org/matconvnet/models/imagenet-vgg-verydeep-16.mat"
    ) in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("kind", ["mat", "h5"])
def test_a_vgg16_file_for_the_default_vgg19_is_refused_in_one_line(
    kind, vgg16_files, tiny_images, tmp_path, capsys
):
    path = vgg16_files[kind]
    argv = [*tiny_images, *SMALL, "--weights", path, "--output-dir", tmp_path / "out"]
    assert run_cli(*argv) == 2
    err = capsys.readouterr().err
    assert one_line(err)
    assert (
        f"weights file {path} holds VGG-16 (13 conv layers), not VGG-19: use it with "
        "--network vgg16, or download imagenet-vgg-verydeep-19.mat from "
        "https://www.vlfeat.org/matconvnet/models/imagenet-vgg-verydeep-19.mat"
    ) in err


def test_a_file_of_the_other_network_named_by_the_variable_says_so(
    vgg19_mat, tiny_images, tmp_path, monkeypatch, capsys
):
    """$NEURAL_ART_WEIGHTS names the weights file whatever the network; its content decides."""
    monkeypatch.setenv("NEURAL_ART_WEIGHTS", str(vgg19_mat))
    argv = [*tiny_images, *SMALL, "--network", "vgg16", "--output-dir", tmp_path / "out"]
    assert run_cli(*argv) == 2
    err = capsys.readouterr().err
    assert one_line(err)
    assert f"weights file {vgg19_mat} holds VGG-19" in err
    assert err.endswith("(the file $NEURAL_ART_WEIGHTS names)\n")


# 4. --check-weights


@pytest.mark.parametrize("kind", ["mat", "h5"])
def test_check_weights_says_vgg16(kind, vgg16_files, capsys):
    path = vgg16_files[kind]
    assert run_cli("--check-weights", "--network", "vgg16", "--weights", path) == 0
    out = capsys.readouterr().out
    assert "structure: VGG-16: all 13 conv layers, right shapes, finite values\n" in out
    # Without --network the file is not usable for the run, and the report says which it is.
    assert run_cli("--check-weights", "--weights", path) == 2
    out = capsys.readouterr().out
    assert (
        "structure: VGG-16: all 13 conv layers, right shapes, finite values; "
        "not VGG-19: use it with --network vgg16\n"
    ) in out


def test_check_weights_on_a_vgg19_file_for_vgg16_says_vgg19(vgg19_mat, capsys):
    assert run_cli("--check-weights", "--network", "vgg16", "--weights", vgg19_mat) == 2
    out = capsys.readouterr().out
    assert "VGG-19: all 16 conv layers, right shapes, finite values; not VGG-16: use it with " \
           "--network vgg19" in out  # fmt: skip


# 5. Layers VGG-16 lacks, and the presets


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--content-layer", "conv5_4"], "argument --content-layer: VGG-16 (network vgg16) "
         "has no layer conv5_4; choose another, or use network vgg19"),
        (["--style-layers", "conv1_1:0.5,block3_conv4:0.5,conv4_4:0"], "argument "
         "--style-layers: VGG-16 (network vgg16) has no layer conv3_4, conv4_4; choose "
         "another, or use network vgg19"),
        (["--preset", "eight"], "argument --network: preset eight uses the style layers "
         "conv3_4, conv5_4, which VGG-16 (network vgg16) lacks: use network vgg19, or other "
         "style layers"),
        (["--preset", "tf2"], "argument --network: preset tf2 uses the content layer conv5_4, "
         "which VGG-16 (network vgg16) lacks: use network vgg19, or other content layer"),
        (["--preset", "eight", "--show-preset"], "preset eight uses the style layers"),
    ],
)  # fmt: skip
def test_layers_vgg16_lacks_are_refused_naming_the_option(
    options, message, tiny_images, tmp_path, capsys
):
    argv = [*tiny_images, "--network", "vgg16", *options, "--output-dir", tmp_path / "out"]
    assert run_cli(*argv) == 2
    err = capsys.readouterr().err
    assert one_line(err) and message in err
    assert not (tmp_path / "out").exists()


def show_preset(capsys, *options) -> dict:
    assert run_cli(*options, "--show-preset") == 0
    return json.loads(capsys.readouterr().out)


def test_show_preset_shows_the_network(capsys):
    assert show_preset(capsys)["network"] == "vgg19"
    assert show_preset(capsys, "--preset", "tf2")["network"] == "vgg19"
    assert show_preset(capsys, "--network", "vgg16")["network"] == "vgg16"
    # A preset's layers given anew make it usable on VGG-16.
    shown = show_preset(capsys, "--preset", "tf2", "--network", "vgg16", "--content-layer",
                        "conv5_3")  # fmt: skip
    assert (shown["network"], shown["content_layer"], shown["width"]) == ("vgg16", "conv5_3", 400)


# 6. Where the weights are found, and the download


@pytest.fixture
def places(tmp_path):
    environ = {"XDG_CACHE_HOME": str(tmp_path / "xdg"), "KERAS_HOME": str(tmp_path / "keras")}
    return environ, tmp_path / "pretrained-model"


def put(path: Path, source: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, path)
    return path


def test_the_search_order_looks_for_vgg16s_file_names(
    places, vgg16_files, vgg19_mat, tmp_path, monkeypatch
):
    environ, pretrained = places
    monkeypatch.setattr(weights_sources.sys, "platform", "linux")
    for _, path in search_order(environ, pretrained, VGG19):  # VGG-19's files do not count
        put(path, vgg19_mat)
    with pytest.raises(weights_sources.WeightsNotFoundError) as caught:
        find_weights(environ, pretrained, VGG16)
    message = str(caught.value)
    assert message.startswith("no VGG-16 weights found")
    assert "--download-weights --network vgg16" in message
    assert "https://www.vlfeat.org/matconvnet/models/imagenet-vgg-verydeep-16.mat" in message
    order = [path for _, path in search_order(environ, pretrained, VGG16)]
    assert order == [
        pretrained / "imagenet-vgg-verydeep-16.mat",
        tmp_path / "xdg" / "neural-art" / "imagenet-vgg-verydeep-16.mat",
        tmp_path / "keras" / "models" / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
    ]
    for path, kind in zip(reversed(order), ["h5", "mat", "mat"], strict=True):
        put(path, vgg16_files[kind])  # each place, once filled, takes precedence
        assert find_weights(environ, pretrained, VGG16) == path


def test_check_weights_finds_the_vgg16_file_in_the_cache(
    vgg16_files, tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(weights_sources.sys, "platform", "linux")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    cached = put(tmp_path / "xdg" / "neural-art" / "imagenet-vgg-verydeep-16.mat",
                 vgg16_files["mat"])  # fmt: skip
    assert run_cli("--check-weights", "--network", "vgg16") == 0
    assert f"file:      {cached} (" in capsys.readouterr().out


def test_the_published_vgg16_files_are_matconvnets_and_keras(vgg16_files):
    """The URLs and MD5s from MatConvNet's checksum table and Keras' vgg16.py."""
    assert {(p.url, p.md5) for p in published_files(VGG16)} == {
        ("https://www.vlfeat.org/matconvnet/models/imagenet-vgg-verydeep-16.mat",
         "f72d927587ca4c97fbd165ec9cb9997f"),
        ("https://storage.googleapis.com/tensorflow/keras-applications/vgg16/"
         "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5", "6d6bbae143d832006294945121d1f1fc"),
    }  # fmt: skip
    assert not {p.md5 for p in published_files(VGG16)} & {p.md5 for p in published_files(VGG19)}


@pytest.fixture
def vgg16_published(vgg16_files, monkeypatch, tmp_path):
    """The stand-in VGG-16 .mat published as VGG-16, another payload as VGG-19; every search
    place inside tmp_path. Returns the .mat's bytes and where a download of it goes."""
    payload = vgg16_files["mat"].read_bytes()
    published = (
        PublishedFile("stand-in VGG-16", "x", hashlib.md5(payload).hexdigest(), network="vgg16"),
        PublishedFile("stand-in VGG-19", "y", hashlib.md5(b"other").hexdigest()),
    )
    monkeypatch.setattr(weights_sources, "PUBLISHED", published)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv("NEURAL_ART_WEIGHTS", raising=False)
    monkeypatch.setattr(weights_sources.sys, "platform", "linux")
    return payload, tmp_path / "cache" / "neural-art" / "imagenet-vgg-verydeep-16.mat"


def test_download_weights_fetches_vgg16_and_checks_its_checksum(vgg16_published, capsys):
    payload, destination = vgg16_published
    server = WeightsServer(payload)
    try:
        assert run_cli("--download-weights", "--network", "vgg16", "--weights-url", server.url) == 0
        assert destination.read_bytes() == payload
        assert f"Saved {destination}: the published stand-in VGG-16" in capsys.readouterr().out
        server.payload = b"other"  # a published file, but VGG-19's: not kept for VGG-16
        other = destination.with_name("other.mat")
        argv = ["--download-weights", "--network", "vgg16", "--weights", other]
        assert run_cli(*argv, "--weights-url", server.url) == 2
    finally:
        server.close()
    err = capsys.readouterr().err
    assert one_line(err) and "is not a published VGG-16 file, so it was deleted" in err
    assert sorted(p.name for p in destination.parent.iterdir()) == [destination.name]


def test_the_main_job_fetches_missing_vgg16_weights_then_runs(
    vgg16_published, tiny_images, tmp_path, capsys
):
    payload, destination = vgg16_published
    server = WeightsServer(payload)
    try:
        argv = [*tiny_images, *SMALL, "--network", "vgg16", "--weights-url", server.url]
        assert run_cli(*argv, "--output-dir", tmp_path / "out") == 0
    finally:
        server.close()
    assert destination.read_bytes() == payload
    out = capsys.readouterr().out
    assert "Downloading VGG-16 weights" in out and f"Loading VGG-16 from {destination}" in out
    assert manifest(tmp_path / "out")["weights"]["path"] == str(destination)


# 7. The memory estimate counts VGG-16's layers


def test_the_memory_estimate_counts_the_networks_own_layers():
    """Up to conv5_1 at 400x300, VGG-16 lacks conv3_4 (100x75x256 values) and conv4_4
    (50x38x512 values)."""
    vgg19 = activation_values(400, 300, "conv5_1", VGG19)
    vgg16 = activation_values(400, 300, "conv5_1", VGG16)
    assert vgg19 - vgg16 == 100 * 75 * 256 + 50 * 38 * 512


def test_reading_as_either_network_tells_which_the_file_holds(vgg16_files, vgg19_mat):
    assert list(read_weights(vgg16_files["h5"], VGG19, either=True)) == VGG16_CONV_NAMES
    assert len(read_weights(vgg19_mat, VGG16, either=True)) == 16
    with pytest.raises(WeightsError, match="holds VGG-16"):
        read_weights(vgg16_files["h5"], VGG19)
