"""bench/cpu_peak.py: the float32 hardware peak from recorded /proc/cpuinfo and sysfs texts.

Each expected value is worked out by hand in the test: cores x FMA units x lanes
per unit x 2 FLOP x clock.
"""

from __future__ import annotations

import os

import pytest

from bench import cpu_peak
from bench.cpu_peak import parse_cpu_list, parse_cpuinfo, peak_from, physical_cores


def cpuinfo(vendor: str, family: int, model: int, name: str, flags: str, mhz: str | None) -> str:
    """/proc/cpuinfo text of two processors with these fields (as the kernel writes them)."""
    blocks = []
    for number in (0, 1):
        lines = [
            f"processor\t: {number}",
            f"vendor_id\t: {vendor}",
            f"cpu family\t: {family}",
            f"model\t\t: {model}",
            f"model name\t: {name}",
            "stepping\t: 1",
        ]
        if mhz is not None:
            lines.append(f"cpu MHz\t\t: {mhz}")
        lines += [f"flags\t\t: {flags}", "bogomips\t: 4899.99", ""]
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


BASE_FLAGS = "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat sse sse2 ht"
AVX2_FLAGS = BASE_FLAGS + " pni ssse3 fma cx16 sse4_1 sse4_2 avx f16c bmi1 avx2 bmi2"
AVX512_FLAGS = AVX2_FLAGS + " avx512f avx512dq avx512cd avx512bw avx512vl"

# An AMD EPYC Zen 3 VM (family 25 model 1), AVX2 only, no cpufreq.
ZEN3 = cpuinfo("AuthenticAMD", 25, 1, "AMD EPYC 7B13", AVX2_FLAGS + " sha_ni vaes", "2449.998")
# An AMD EPYC Zen 4 (family 25 model 17) with AVX-512; its "cpu MHz" is the current clock.
ZEN4 = cpuinfo("AuthenticAMD", 25, 17, "AMD EPYC 9654 96-Core Processor",
               AVX512_FLAGS + " avx512_bf16", "1500.000")  # fmt: skip
# This project's build machine kind (lscpu: AMD EPYC, family 26 model 2, KVM).
ZEN5 = cpuinfo("AuthenticAMD", 26, 2, "AMD EPYC", AVX512_FLAGS + " avx512_bf16", "2596.096")
# An Intel Xeon Skylake-SP (family 6 model 85) with AVX-512.
SKYLAKE = cpuinfo("GenuineIntel", 6, 85, "Intel(R) Xeon(R) Gold 6154 CPU @ 3.00GHz",
                  AVX512_FLAGS, "3000.000")  # fmt: skip
# A machine with SSE only (Core 2 Duo), idling at 2.00 GHz below its 3.00 GHz label.
SSE_ONLY = cpuinfo("GenuineIntel", 6, 23, "Intel(R) Core(TM)2 Duo CPU     E8400  @ 3.00GHz",
                   BASE_FLAGS + " pni ssse3 sse4_1", "2000.000")  # fmt: skip

NO_SMT = {0: "0\n", 1: "1\n"}  # two CPUs, each its own core
SMT_PAIRS = {0: "0,2\n", 1: "1,3\n", 2: "0,2\n", 3: "1,3\n"}  # two cores of two threads


def test_zen3_avx2_epyc():
    """2 cores x 2 FMA x 8 lanes x 2 FLOP x 2.449998 GHz (cpu MHz: no cpufreq in the VM)."""
    peak = peak_from(ZEN3, [0, 1, 2, 3], SMT_PAIRS, None)
    assert (peak.cores, peak.units.count, peak.units.bits, peak.lanes) == (2, 2, 256, 8)
    assert peak.lanes_per_unit == 8
    assert peak.ghz == pytest.approx(2.449998)
    assert "cpu MHz" in peak.clock_source
    assert peak.flops == pytest.approx(2 * 2 * 8 * 2 * 2.449998e9)  # 156.8 GFLOP/s
    assert not peak.units.assumed


def test_zen4_avx512_runs_512_bits_on_two_256_bit_units():
    """Zen 4: 16 lanes per instruction, but each 256-bit FMA unit takes 8 per cycle.
    cpufreq's 3,700,000 kHz boost beats cpu MHz: 2 x 2 x 8 x 2 x 3.7 GHz."""
    peak = peak_from(ZEN4, [0, 1], NO_SMT, "3700000\n")
    assert (peak.lanes, peak.units.count, peak.units.bits) == (16, 2, 256)
    assert peak.lanes_per_unit == 8
    assert peak.ghz == pytest.approx(3.7)
    assert "cpufreq" in peak.clock_source
    assert peak.flops == pytest.approx(2 * 2 * 8 * 2 * 3.7e9)  # 236.8 GFLOP/s


def test_zen5_turin_full_512_bit():
    """This machine's kind: 2 x 2 x 16 x 2 x 2.596096 GHz = 332.3 GFLOP/s."""
    peak = peak_from(ZEN5, [0, 1], NO_SMT, None)
    assert (peak.cores, peak.units.count, peak.units.bits, peak.lanes_per_unit) == (2, 2, 512, 16)
    assert peak.flops == pytest.approx(2 * 2 * 16 * 2 * 2.596096e9)


def test_skylake_sp_gold_6154_has_two_512_bit_units():
    """4 cores x 2 FMA x 16 lanes x 2 FLOP x 3.0 GHz = 768 GFLOP/s."""
    peak = peak_from(SKYLAKE, [0, 1, 2, 3], {n: f"{n}\n" for n in range(4)}, None)
    assert (peak.units.count, peak.units.bits, peak.lanes_per_unit) == (2, 512, 16)
    assert peak.flops == pytest.approx(4 * 2 * 16 * 2 * 3.0e9)


@pytest.mark.parametrize(
    ("name", "units", "assumed"),
    [
        ("Intel(R) Xeon(R) Platinum 8180 CPU @ 2.50GHz", 2, False),
        ("Intel(R) Xeon(R) Gold 5122 CPU @ 3.60GHz", 2, False),
        ("Intel(R) Xeon(R) Gold 5120 CPU @ 2.20GHz", 1, False),
        ("Intel(R) Xeon(R) Silver 4114 CPU @ 2.20GHz", 1, False),
        ("Intel Xeon Processor (Skylake, IBRS)", 2, True),  # a VM hides the SKU
    ],
)
def test_skylake_sp_units_by_sku(name: str, units: int, assumed: bool):
    """Skylake-SP has 1 or 2 AVX-512 FMA units by SKU; an unknown SKU assumes 2 and says so."""
    peak = peak_from(cpuinfo("GenuineIntel", 6, 85, name, AVX512_FLAGS, "2200.000"), [0], {}, None)
    assert (peak.units.count, peak.units.assumed) == (units, assumed)
    assert any("ASSUMED" in line for line in peak.lines()) == assumed


def test_sse_only_machine():
    """4 lanes, one multiply + one add pipe; the label's 3.00 GHz beats the idle 2000 MHz:
    2 cores x 1 x 4 x 2 x 3.0 GHz = 48 GFLOP/s."""
    peak = peak_from(SSE_ONLY, [0, 1], NO_SMT, None)
    assert (peak.lanes, peak.units.count, peak.units.bits) == (4, 1, 128)
    assert peak.ghz == pytest.approx(3.0)
    assert "model name" in peak.clock_source
    assert peak.flops == pytest.approx(2 * 1 * 4 * 2 * 3.0e9)


def test_clock_from_model_name_without_cpu_mhz():
    """No cpufreq and no cpu MHz: the model name's "@ 3.00GHz"."""
    text = cpuinfo("GenuineIntel", 6, 85, "Intel(R) Xeon(R) Gold 6154 CPU @ 3.00GHz",
                   AVX512_FLAGS, None)  # fmt: skip
    assert peak_from(text, [0], {}, None).ghz == pytest.approx(3.0)


def test_clock_override():
    """--clock-ghz replaces whatever the system shows."""
    peak = peak_from(ZEN5, [0, 1], NO_SMT, None, clock_override=3.7)
    assert peak.ghz == 3.7
    assert "--clock-ghz" in peak.clock_source


def test_unknown_cpu_assumes_two_units():
    """A vendor the table lacks: 2 units of the flags' width, flagged as assumed."""
    text = cpuinfo("CentaurHauls", 7, 59, "ZHAOXIN KaiXian KX-U6780A", AVX2_FLAGS, "2700.000")
    peak = peak_from(text, [0], {}, None)
    assert (peak.units.count, peak.units.bits, peak.units.assumed) == (2, 256, True)


def test_physical_cores_counts_smt_siblings_once():
    """Two threads of one core are one core; the affinity mask decides which CPUs count."""
    assert physical_cores([0, 1, 2, 3], SMT_PAIRS)[0] == 2
    assert physical_cores([0, 2], SMT_PAIRS)[0] == 1  # both threads of core 0
    assert physical_cores([0, 1], SMT_PAIRS)[0] == 2  # one thread of each core
    count, source = physical_cores([0, 1, 2], {})  # no sysfs topology
    assert count == 3 and "SMT unknown" in source


def test_parse_cpu_list():
    """sysfs lists: ranges and single CPUs."""
    assert parse_cpu_list("0-3,8,10-11\n") == {0, 1, 2, 3, 8, 10, 11}
    assert parse_cpu_list("5") == {5}


def test_parse_cpuinfo_fields():
    """Vendor, family, model, flags of the first processor; the largest cpu MHz."""
    cpu = parse_cpuinfo(ZEN3.replace("2449.998", "2600.000", 1))
    assert (cpu.vendor, cpu.family, cpu.model) == ("AuthenticAMD", 25, 1)
    assert "avx2" in cpu.flags and "avx512f" not in cpu.flags
    assert cpu.mhz == pytest.approx(2600.0)


def test_read_peak_on_this_machine():
    """The live reader gives a positive peak with no more cores than CPUs in the mask."""
    peak = cpu_peak.read_peak()
    assert 1 <= peak.cores <= len(os.sched_getaffinity(0))
    assert peak.flops > 0
