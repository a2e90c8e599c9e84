"""The memory estimate and the refusal of runs that would not fit (nst.memory)."""

from __future__ import annotations

import math

import pytest
from cli_runs import run_cli

import nst.run.image_job
from nst.errors import InputError
from nst.memory import (
    BASE_BYTES,
    GIB,
    HEADROOM,
    PER_VALUE_BYTES,
    PIXEL_BYTES,
    TILE_VALUE_BYTES,
    activation_values,
    available_bytes,
    estimate_peak_bytes,
    fit_memory,
)
from nst.settings import Settings
from nst.tile_grid import MIN_TILE


def test_activation_values_add_up_the_conv_outputs_up_to_the_deepest_layer():
    # 8x6: block 1 at 8x6 (64 channels, 2 convs), block 2 at 4x3 (128 channels, 2 convs)
    assert activation_values(8, 6, "conv1_1") == 8 * 6 * 64
    assert activation_values(8, 6, "conv2_2") == 2 * 8 * 6 * 64 + 2 * 4 * 3 * 128


def test_the_estimate_is_the_base_plus_a_cost_per_activation_value():
    estimate = estimate_peak_bytes(Settings(), (400, 300))
    assert estimate == BASE_BYTES + int(PER_VALUE_BYTES * activation_values(400, 300, "conv5_1"))


def test_the_estimate_grows_with_the_size_and_the_deepest_layer():
    s = Settings()
    assert estimate_peak_bytes(s, (400, 300)) < estimate_peak_bytes(s, (800, 600))
    shallow = s.replace(content_layer="conv2_2", style_layers=[("conv1_1", 1.0)])
    assert estimate_peak_bytes(shallow, (400, 300)) < estimate_peak_bytes(s, (400, 300))


def test_a_larger_style_image_counts_when_it_is_the_larger_pass():
    s = Settings()
    assert estimate_peak_bytes(s.replace(style_scale=2), (400, 300)) == estimate_peak_bytes(
        s, (800, 600)
    )


def test_a_tiled_estimate_is_the_base_one_window_and_the_whole_images_arrays():
    s = Settings(tile=512, optimizer="lbfgs")
    window = activation_values(512 + 2 * 64, 512 + 2 * 64, "conv5_1")
    content_target = 1024 * 768 * 512  # conv4_2 of 8192x6144: stride 8, 512 channels
    assert (
        estimate_peak_bytes(s, (8192, 6144))
        == BASE_BYTES
        + int(TILE_VALUE_BYTES * window)
        + PIXEL_BYTES["lbfgs"] * 8192 * 6144
        + 2 * content_target
    )


def test_tiles_bound_the_network_part_of_the_memory():
    s = Settings()
    assert estimate_peak_bytes(s.replace(tile=512), (4096, 3072)) < estimate_peak_bytes(
        s, (1024, 768)
    )


def test_a_run_that_fits_passes_and_an_unknown_amount_is_not_checked():
    assert fit_memory(Settings(), (400, 300), available=100 * GIB) == Settings()
    assert fit_memory(Settings(), (16384, 12288), available=None) == Settings()


def test_a_run_that_does_not_fit_whole_gets_the_largest_tiles_that_fit_with_headroom():
    s = Settings()
    available = math.ceil(estimate_peak_bytes(s.replace(tile=512), (4000, 3000)) / HEADROOM)
    assert fit_memory(s, (4000, 3000), available) == s.replace(tile=512)
    assert estimate_peak_bytes(s.replace(tile=528), (4000, 3000)) > HEADROOM * available


def test_lbfgs_needs_more_than_adam_by_its_own_arrays():
    adam, lbfgs = Settings(), Settings(optimizer="lbfgs")
    extra = (PIXEL_BYTES["lbfgs"] - PIXEL_BYTES["adam"]) * 400 * 300
    assert estimate_peak_bytes(lbfgs, (400, 300)) == estimate_peak_bytes(adam, (400, 300)) + extra


def test_a_run_that_does_not_fit_even_in_tiles_is_refused_with_the_largest_size_that_fits():
    s = Settings()
    available = math.ceil((estimate_peak_bytes(s.replace(tile=128), (4000, 3000)) + 1) / HEADROOM)
    with pytest.raises(InputError) as refused:
        fit_memory(s, (16000, 12000), available)
    message = str(refused.value)
    assert message.startswith("a 16000x12000 run needs about ")
    assert f"{available / GIB:.1f} GiB is available; --size 4000 or less fits" in message


def test_a_tile_too_large_for_the_memory_is_refused_asking_for_a_smaller_one():
    s = Settings(tile=2048)
    available = math.ceil(estimate_peak_bytes(s.replace(tile=512), (4000, 3000)) / HEADROOM)
    with pytest.raises(InputError, match=r"a smaller --tile fits \(now 2048\)"):
        fit_memory(s, (4000, 3000), available)


def test_a_run_too_large_for_lbfgs_is_told_that_adam_fits():
    s = Settings(optimizer="lbfgs")
    adam = s.replace(optimizer="adam", tile=512)
    available = math.ceil(estimate_peak_bytes(adam, (8192, 6144)) / HEADROOM)
    with pytest.raises(InputError) as refusal:
        fit_memory(s, (8192, 6144), available)
    assert str(refusal.value).endswith(
        "(longest side now 8192); --optimizer adam fits at this size (its state takes less "
        "than L-BFGS-B's)"
    )
    assert fit_memory(s.replace(optimizer="adam"), (8192, 6144), available).tile >= 512


def test_nothing_fits_when_even_the_base_exceeds_the_memory():
    with pytest.raises(InputError, match="even a small image does not fit"):
        fit_memory(Settings(), (400, 300), available=BASE_BYTES // 2)


def test_the_available_memory_is_known_on_this_system():
    assert available_bytes() > 0


def fake_system(tmp_path, membership: str, files: dict[str, str]):
    """A /proc with 20 GiB MemAvailable and `membership` as /proc/self/cgroup, and cgroup
    mounts holding `files` ({path under the mounts: text}); (proc, cgroups)."""
    proc, cgroups = tmp_path / "proc", tmp_path / "cgroup"
    (proc / "self").mkdir(parents=True)
    (proc / "meminfo").write_text(f"MemTotal: {24 * 2**20} kB\nMemAvailable: {20 * 2**20} kB\n")
    (proc / "self" / "cgroup").write_text(membership)
    for name, text in files.items():
        (cgroups / name).parent.mkdir(parents=True, exist_ok=True)
        (cgroups / name).write_text(text)
    return proc, cgroups


def test_a_containers_memory_limit_bounds_the_available_memory_cgroup_v2(tmp_path):
    """The limit minus the usage, the inactive file cache counted as free."""
    proc, cgroups = fake_system(tmp_path, "0::/box\n", {
        "box/memory.max": f"{4 * GIB}\n",
        "box/memory.current": f"{GIB}\n",
        "box/memory.stat": f"anon 1000\ninactive_file {GIB // 2}\nactive_file 7\n",
    })  # fmt: skip
    assert available_bytes(proc, cgroups) == 3.5 * GIB


def test_the_tightest_limit_of_a_group_and_its_parents_counts_cgroup_v1(tmp_path):
    proc, cgroups = fake_system(tmp_path, "5:cpu:/\n4:memory:/jobs/one\n", {
        "memory/jobs/one/memory.limit_in_bytes": "9223372036854771712\n",  # none
        "memory/jobs/one/memory.usage_in_bytes": f"{GIB}\n",
        "memory/jobs/memory.limit_in_bytes": f"{6 * GIB}\n",
        "memory/jobs/memory.usage_in_bytes": f"{4 * GIB}\n",
        "memory/memory.limit_in_bytes": "9223372036854771712\n",
        "memory/memory.usage_in_bytes": f"{9 * GIB}\n",
    })  # fmt: skip
    assert available_bytes(proc, cgroups) == 2 * GIB


@pytest.mark.parametrize(
    "membership, files",
    [
        ("0::/box\n", {"box/memory.max": "max\n", "box/memory.current": "5\n"}),
        ("0::/\n", {}),  # a hybrid system: no memory files in the unified mount
        ("3:cpuset:/\n", {}),
    ],
)
def test_without_a_memory_limit_the_systems_available_memory_counts(tmp_path, membership, files):
    proc, cgroups = fake_system(tmp_path, membership, files)
    assert available_bytes(proc, cgroups) == 20 * GIB
    assert available_bytes(proc, tmp_path / "no cgroups") == 20 * GIB


def test_a_limit_below_the_usage_leaves_nothing(tmp_path):
    proc, cgroups = fake_system(tmp_path, "0::/box\n", {
        "box/memory.max": f"{GIB}\n", "box/memory.current": f"{2 * GIB}\n",
    })  # fmt: skip
    assert available_bytes(proc, cgroups) == 0


def test_the_command_line_refuses_a_run_too_large_for_the_memory_available(
    tiny_images, tmp_path, monkeypatch, capsys
):
    """The memory available is set to what a 4096x3072 run in the smallest tiles needs, so
    that the refusal does not depend on the machine's memory."""
    available = math.ceil(estimate_peak_bytes(Settings(tile=MIN_TILE), (4096, 3072)) / HEADROOM)
    monkeypatch.setattr(nst.run.image_job, "available_bytes", lambda: available)
    content, style = tiny_images  # 40x30: --size 16384 is 16384x12288
    status = run_cli(content, style, "--size", 16384, "--output-dir", tmp_path / "o")
    err = capsys.readouterr().err
    assert status == 2
    assert "a 16384x12288 run needs about" in err and "--size 4096 or less fits" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "o").exists()  # refused before anything was written
