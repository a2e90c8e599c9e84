"""Where weights are looked for, and what --check-weights says about a file."""

import shutil
from pathlib import Path

import pytest

import neural_art
from nst.weights import sources as weights_sources
from nst.weights.formats import WeightsError
from nst.weights.sources import (
    digests,
    find_weights,
    keras_cache_file,
    search_order,
    user_cache_dir,
)


def test_cache_folder_follows_each_platforms_convention():
    home = Path("/home/ada")
    assert user_cache_dir("linux", {}, home) == home / ".cache" / "neural-art"
    xdg = {"XDG_CACHE_HOME": "/var/cache/ada"}
    assert user_cache_dir("linux", xdg, home) == Path("/var/cache/ada/neural-art")
    relative = {"XDG_CACHE_HOME": "cache"}  # the XDG spec ignores relative paths
    assert user_cache_dir("linux", relative, home) == home / ".cache" / "neural-art"
    assert user_cache_dir("darwin", {}, home) == home / "Library" / "Caches" / "neural-art"
    local = {"LOCALAPPDATA": "C:/Users/ada/AppData/Local"}
    assert user_cache_dir("win32", local, home) == Path(
        "C:/Users/ada/AppData/Local/neural-art/Cache"
    )


def test_keras_cache_is_keras_home_models():
    home = Path("/home/ada")
    expected = home / ".keras" / "models" / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
    assert keras_cache_file({}, home) == expected
    assert keras_cache_file({"KERAS_HOME": "/k"}, home).parent == Path("/k/models")


@pytest.fixture
def places(tmp_path):
    """An environment whose every search place lies under tmp_path, all empty at first."""
    environ = {"XDG_CACHE_HOME": str(tmp_path / "xdg"), "KERAS_HOME": str(tmp_path / "keras")}
    pretrained = tmp_path / "pretrained-model"
    return environ, pretrained


def put(path: Path, source: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, path)
    return path


def test_search_order_first_found_wins(places, vgg19_mat, tmp_path, monkeypatch):
    environ, pretrained = places
    monkeypatch.setattr(weights_sources.sys, "platform", "linux")
    order = [path for _, path in search_order(environ, pretrained)]
    assert order == [
        pretrained / "imagenet-vgg-verydeep-19.mat",
        tmp_path / "xdg" / "neural-art" / "imagenet-vgg-verydeep-19.mat",
        tmp_path / "keras" / "models" / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
    ]
    for path in reversed(order):  # each place, once filled, takes precedence
        put(path, vgg19_mat)
        assert find_weights(environ, pretrained) == path
    named = put(tmp_path / "mine" / "w.mat", vgg19_mat)
    assert find_weights({**environ, "NEURAL_ART_WEIGHTS": str(named)}, pretrained) == named


def test_an_environment_variable_naming_no_file_is_an_error(places, tmp_path):
    environ, pretrained = places
    environ["NEURAL_ART_WEIGHTS"] = str(tmp_path / "gone.mat")
    with pytest.raises(WeightsError, match=r"\$NEURAL_ART_WEIGHTS names .*gone.mat"):
        find_weights(environ, pretrained)


def test_nothing_found_says_where_it_looked_and_what_to_do(places):
    environ, pretrained = places
    with pytest.raises(WeightsError) as caught:
        find_weights(environ, pretrained)
    message = str(caught.value)
    for _, path in search_order(environ, pretrained):
        assert str(path) in message
    assert "https://www.vlfeat.org/matconvnet/models/imagenet-vgg-verydeep-19.mat" in message
    assert "--weights PATH" in message


def check(capsys, *argv):
    status = neural_art.main(["--check-weights", *map(str, argv)])
    return status, capsys.readouterr().out


def test_check_weights_reports_format_checksums_and_structure(vgg19_mat, vgg19_mat_beta16, capsys):
    md5, sha256 = digests(vgg19_mat)
    status, out = check(capsys, "--weights", vgg19_mat)
    assert status == 0
    assert "MatConvNet .mat, current layout" in out
    assert f"MD5:       {md5}" in out and f"SHA-256:   {sha256}" in out
    assert "matches no published file" in out
    assert "VGG-19: all 16 conv layers" in out
    status, out = check(capsys, "--weights", vgg19_mat_beta16)
    assert status == 0 and "older beta16 layout" in out


def test_check_weights_names_a_published_file(vgg19_mat, capsys, monkeypatch):
    md5, sha256 = digests(vgg19_mat)
    stand_in = weights_sources.PublishedFile("stand-in file", "https://example.org/w.mat", md5)
    monkeypatch.setattr(weights_sources, "PUBLISHED", (stand_in,))
    status, out = check(capsys, "--weights", vgg19_mat)
    assert status == 0 and "matches the published stand-in file (https://example.org/w.mat)" in out


def test_check_weights_on_a_bad_file_says_why_and_fails(tmp_path, capsys):
    page = tmp_path / "page.mat"
    page.write_text("<html>gone</html>")
    status, out = check(capsys, "--weights", page)
    assert status == 2
    assert "neither MATLAB .mat nor HDF5" in out and "not usable: weights file" in out


def test_check_weights_uses_the_search_order(vgg19_mat, capsys, monkeypatch):
    monkeypatch.setenv("NEURAL_ART_WEIGHTS", str(vgg19_mat))
    status, out = check(capsys)
    assert status == 0 and str(vgg19_mat) in out


def test_the_main_job_finds_weights_by_the_search_order(
    tiny_images, vgg19_mat, tmp_path, monkeypatch
):
    monkeypatch.setenv("NEURAL_ART_WEIGHTS", str(vgg19_mat))
    content, style = tiny_images
    argv = [content, style, "--width", 16, "--height", 16, "--iterations", 1,
            "--output-dir", tmp_path / "o"]  # fmt: skip
    assert neural_art.main([str(a) for a in argv]) == 0
    assert (tmp_path / "o" / "generated_image.jpg").is_file()


def test_a_numbered_duplicate_is_pointed_out_not_downloaded_again(places, vgg19_mat):
    environ, pretrained = places
    duplicate = put(pretrained / "imagenet-vgg-verydeep-19.mat.1", vgg19_mat)
    with pytest.raises(WeightsError) as caught:
        find_weights(environ, pretrained)
    assert not isinstance(caught.value, weights_sources.WeightsNotFoundError)
    assert f"found {duplicate} but no imagenet-vgg-verydeep-19.mat" in str(caught.value)
    assert "Rename it to" in str(caught.value)


def test_the_python_api_says_how_its_caller_names_a_weights_file(places, tiny_images, monkeypatch):
    """Not the command line's --weights: stylize's caller gives Settings a weights path."""
    import nst.transfer
    from nst.settings import Settings

    environ, pretrained = places
    monkeypatch.setattr(
        nst.transfer, "find_weights", lambda **kw: find_weights(environ, pretrained, **kw)
    )
    settings = Settings(content=tiny_images[0], styles=(tiny_images[1],), iterations=1)
    with pytest.raises(weights_sources.WeightsNotFoundError) as caught:
        next(nst.transfer.stylize(settings))
    assert str(caught.value).endswith("or give stylize settings with weights=PATH")
    assert "--weights" not in str(caught.value)
