"""The machine's single-precision (float32) peak from its hardware, for bench/speed.py.

    peak [FLOP/s] = physical cores x FMA units per core x float32 lanes per FMA unit
                    x 2 FLOP per fused multiply-add x clock [Hz]

Each part comes from what the system shows, with its source:

- cores: the physical cores among the CPUs this process may run on
  (os.sched_getaffinity), with SMT siblings counted once
  (/sys/devices/system/cpu/cpuN/topology/thread_siblings_list);
- lanes: the widest vector extension in the flags of /proc/cpuinfo
  (avx512f: 16, avx2, fma or avx: 8, otherwise SSE: 4);
- FMA units: not readable from the system, so a small table by vendor, family,
  model and model name (`fma_units`), with its sources; where the table does not
  know the CPU, it assumes the larger choice and says so, so that the peak stays
  an upper bound;
- clock: cpufreq's cpuinfo_max_freq (the boost clock) when present; otherwise
  the larger of /proc/cpuinfo's "cpu MHz" and the model name's "@ x.xxGHz". In
  a virtual machine without cpufreq, "cpu MHz" is often the nominal clock, below
  the boost clock the cores really run at: then the peak is too low, and a
  measured rate above it shows it.

The parsing functions take the texts as arguments (tests feed recorded ones);
`read_peak` reads them from this machine.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

SYS_CPU = Path("/sys/devices/system/cpu")
PROC_CPUINFO = Path("/proc/cpuinfo")
FLOP_PER_FMA = 2  # a fused multiply-add is a multiply and an add


@dataclass(frozen=True)
class CpuInfo:
    """The fields of /proc/cpuinfo that the peak needs (from the first processor)."""

    vendor: str  # "AuthenticAMD", "GenuineIntel", ...
    family: int
    model: int
    model_name: str
    flags: frozenset[str]
    mhz: float | None  # the largest "cpu MHz" of all processors, MHz


@dataclass(frozen=True)
class FmaUnits:
    """Vector FMA units per core, their width in bits, and where that comes from."""

    count: int
    bits: int
    source: str
    assumed: bool = False  # True: the table does not know this CPU


@dataclass(frozen=True)
class Peak:
    """The hardware peak and its parts, each with its source."""

    cores: int
    cores_source: str
    lanes: int  # float32 lanes of the widest vector instruction
    lanes_source: str
    units: FmaUnits
    ghz: float  # clock, GHz
    clock_source: str

    @property
    def lanes_per_unit(self) -> int:
        """float32 lanes one FMA unit completes per cycle (a narrow unit splits a wide op)."""
        return min(self.lanes, self.units.bits // 32)

    @property
    def flops(self) -> float:
        """The float32 peak, FLOP/s."""
        per_cycle = self.cores * self.units.count * self.lanes_per_unit * FLOP_PER_FMA
        return per_cycle * self.ghz * 1e9

    def lines(self) -> list[str]:
        """The peak and each part with its source, for printing."""
        unit_note = ""
        if self.lanes_per_unit < self.lanes:
            unit_note = f", so {self.lanes_per_unit} lanes each per cycle"
        lines = [
            f"hardware peak (float32): {self.flops / 1e9:.1f} GFLOP/s = {self.cores} cores x "
            f"{self.units.count} FMA units x {self.lanes_per_unit} lanes x {FLOP_PER_FMA} FLOP x "
            f"{self.ghz:.2f} GHz",
            f"  cores       {self.cores:>5}     {self.cores_source}",
            f"  lanes       {self.lanes:>5}     float32 per instruction ({self.lanes_source})",
            f"  FMA units   {self.units.count:>5}     {self.units.bits}-bit{unit_note}; "
            f"{self.units.source}",
            f"  clock       {self.ghz:>5.2f} GHz {self.clock_source}",
        ]
        if self.units.assumed:
            lines.append(
                "  (FMA units ASSUMED: this CPU is not in bench/cpu_peak.py's table; "
                "the larger choice is taken, so the peak is an upper bound)"
            )
        return lines


# ---------------------------------------------------------------- parsing


def parse_cpuinfo(text: str) -> CpuInfo:
    """The first processor's vendor, family, model, name and flags, and the largest cpu MHz."""
    fields: dict[str, str] = {}
    mhz: list[float] = []
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if key == "cpu MHz":
            mhz.append(float(value))
        fields.setdefault(key, value)
    flags = fields.get("flags") or fields.get("Features") or ""  # Features: ARM's name
    return CpuInfo(
        vendor=fields.get("vendor_id", ""),
        family=int(fields.get("cpu family", "0")),
        model=int(fields.get("model", "0")) if fields.get("model", "").isdigit() else 0,
        model_name=fields.get("model name", ""),
        flags=frozenset(flags.split()),
        mhz=max(mhz) if mhz else None,
    )


def parse_cpu_list(text: str) -> set[int]:
    """The CPU numbers of a sysfs list such as "0-3,8,10-11"."""
    cpus: set[int] = set()
    for part in text.strip().split(","):
        if not part:
            continue
        low, _, high = part.partition("-")
        cpus.update(range(int(low), int(high or low) + 1))
    return cpus


def physical_cores(cpus: Iterable[int], siblings: Mapping[int, str]) -> tuple[int, str]:
    """Physical cores among `cpus` (logical CPU numbers) and the source of the count.

    siblings: each CPU's thread_siblings_list text (the logical CPUs of its core);
    a core counts once however many of its threads are in `cpus`.
    """
    cpus = sorted(cpus)
    if not all(cpu in siblings for cpu in cpus):
        return len(cpus), f"{len(cpus)} CPUs in the affinity mask (SMT unknown: no sysfs topology)"
    cores = {frozenset(parse_cpu_list(siblings[cpu])) for cpu in cpus}
    threads = max(len(core) for core in cores)
    return len(cores), (
        f"physical cores of the {len(cpus)} CPUs in the affinity mask "
        f"(up to {threads} thread(s) per core: topology/thread_siblings_list)"
    )


def vector_lanes(flags: frozenset[str]) -> tuple[int, str]:
    """float32 lanes of the widest vector extension in the flags, and which flag it was."""
    for flag, lanes in (("avx512f", 16), ("avx2", 8), ("fma", 8), ("avx", 8)):
        if flag in flags:
            return lanes, f"{flag} in /proc/cpuinfo flags"
    return 4, "no AVX flag in /proc/cpuinfo: 128-bit vectors (SSE)"


def clock_ghz(max_freq_khz: str | None, cpu: CpuInfo) -> tuple[float, str]:
    """The clock the peak uses, GHz, and its source.

    max_freq_khz: the text of cpufreq/cpuinfo_max_freq (kHz), or None where it is missing.
    """
    if max_freq_khz and max_freq_khz.strip():
        return int(max_freq_khz) / 1e6, "(cpufreq cpuinfo_max_freq, the boost clock)"
    label = re.search(r"@\s*([\d.]+)\s*GHz", cpu.model_name)
    candidates = []
    if cpu.mhz:
        candidates.append((cpu.mhz / 1000, "(/proc/cpuinfo cpu MHz; no cpufreq"))
    if label:
        candidates.append((float(label.group(1)), "(model name's @ GHz; no cpufreq"))
    if not candidates:
        raise ValueError("no clock: no cpufreq, no cpu MHz, no GHz in the model name")
    ghz, source = max(candidates)
    return ghz, source + ": may be the nominal clock, below the boost clock)"


# ---------------------------------------------------------------- FMA units: the table
#
# Sources (what each says, in short):
# [SO]  stackoverflow.com/questions/15655835, answer "FLOPs per cycle for Sandy Bridge and
#       Haswell and others": per-core FLOP/cycle = FMAs per clock x lanes x 2; Core 2 and
#       Nehalem: one 4-wide SSE add + one 4-wide SSE multiply per cycle; Sandy/Ivy Bridge: one
#       8-wide AVX add + one multiply; Haswell to Coffee Lake: two 8-wide FMAs per cycle.
# [VPU] github.com/jeffhammond/vpu-count (Intel ARK's "# of AVX-512 FMA Units"): Skylake-SP
#       Platinum 8100 and Gold 6100 and Gold 5122: 2; the other Gold 5100, Silver and Bronze: 1.
# [STH] servethehome.com, "Intel Xeon Ice Lake Edition Marks the Start and End of an Era":
#       Ice Lake-SP has 2 AVX-512 FMA units throughout the family.
# [TD]  gist.github.com/travisdowns/c53f40fc4dbbd944f5613eaab78f3189 (Ice Lake client,
#       i5-1035G4): one 512-bit FMA per cycle against two 256-bit ones.
# [WC2] en.wikichip.org/wiki/amd/microarchitectures/zen_2: Zen/Zen+ FP datapaths are 128 bits
#       wide (a 256-bit op is two halves); Zen 2 doubles them to 256 bits.
# [FL3] wlog.flatlib.jp/2024/01/13/ryzen-zen3-vfpbench: Zen 3, like Zen 2, has two 256-bit
#       multiply/FMA pipes (and two add pipes, which a matrix product's FMAs cannot use).
# [NW5] numberworld.org/blogs/2024_8_7_zen5_avx512_teardown: Zen 4 runs 512-bit instructions
#       on its 256-bit hardware (double-pumped); Zen 5 (desktop, server) is native 512-bit.
# [CC5] chipsandcheese.com, "AMD's Strix Point: Zen 5 Hits Mobile" and "AMD's Ryzen 9950X:
#       Zen 5 on Desktop": mobile Zen 5 keeps a narrower FPU; desktop gets the full one.
# [PPR] docs.amd.com 57238, "PPR for AMD Family 1Ah Model 02h" (Turin, EPYC 9005).

INTEL_SKYLAKE_SP = 0x55  # Skylake-SP/X, Cascade Lake, Cooper Lake: 1 or 2 units by SKU [VPU]
INTEL_ICE_LAKE_SP = (0x6A, 0x6C)  # 2 units in every SKU [STH]
INTEL_AVX512_CLIENT = (0x66, 0x7D, 0x7E, 0x8C, 0x8D, 0xA7)  # Cannon/Ice/Tiger/Rocket Lake [TD]


def fma_units(cpu: CpuInfo) -> FmaUnits:
    """FMA units per core and their width, from the table above (assumed where unknown)."""
    flags = cpu.flags
    if not {"avx", "fma", "avx2", "avx512f"} & flags:
        if cpu.vendor in ("GenuineIntel", "AuthenticAMD") and "sse" in flags:
            # no FMA: one SSE multiply and one SSE add per cycle, one multiply-add per lane [SO]
            return FmaUnits(1, 128, "SSE only: one 128-bit multiply + one add pipe [SO]")
        return _assumed(cpu, 128)
    if cpu.vendor == "GenuineIntel":
        return _intel_units(cpu)
    if cpu.vendor in ("AuthenticAMD", "HygonGenuine"):
        return _amd_units(cpu)
    return _assumed(cpu, 512 if "avx512f" in flags else 256)


def _assumed(cpu: CpuInfo, bits: int) -> FmaUnits:
    """Two units of the widest vector width: the larger choice for a CPU the table lacks."""
    what = f"{cpu.vendor or 'unknown vendor'} family {cpu.family:#x} model {cpu.model:#x}"
    return FmaUnits(2, bits, f"{what}: not in the table, 2 assumed", assumed=True)


def _intel_units(cpu: CpuInfo) -> FmaUnits:
    """Intel: by AVX-512 SKU for Skylake-SP, by model for the others [SO, VPU, STH, TD]."""
    name = cpu.model_name
    if "avx512f" not in cpu.flags:
        if "fma" in cpu.flags:
            return FmaUnits(2, 256, "Intel with FMA3 (Haswell and later): two 256-bit FMA [SO]")
        return FmaUnits(1, 256, "Intel AVX without FMA: one 256-bit multiply + one add [SO]")
    if cpu.family == 6 and cpu.model in INTEL_ICE_LAKE_SP:
        return FmaUnits(2, 512, "Ice Lake-SP: two 512-bit FMA units in every SKU [STH]")
    if cpu.family == 6 and cpu.model in INTEL_AVX512_CLIENT:
        return FmaUnits(1, 512, "Intel client AVX-512 (Ice/Tiger/Rocket Lake): one 512-bit [TD]")
    if cpu.family == 6 and cpu.model == INTEL_SKYLAKE_SP:
        sku = re.search(r"(Platinum|Gold|Silver|Bronze)\s+(\d{4})", name)
        if sku and (sku.group(1) == "Platinum" or sku.group(2)[0] == "6" or sku.group(2) == "5122"):
            return FmaUnits(2, 512, f"Xeon {sku.group(1)} {sku.group(2)}: two 512-bit FMA [VPU]")
        if sku:
            return FmaUnits(1, 512, f"Xeon {sku.group(1)} {sku.group(2)}: one 512-bit FMA [VPU]")
        return FmaUnits(
            2, 512, "Skylake-SP family, SKU unknown (1 or 2 by SKU): 2 assumed", assumed=True
        )
    return _assumed(cpu, 512)


def _amd_units(cpu: CpuInfo) -> FmaUnits:
    """AMD (and Hygon, a Zen licensee): by family and model [WC2, FL3, NW5, CC5, PPR]."""
    family, model = cpu.family, cpu.model
    if family == 0x18 or (family == 0x17 and model < 0x30):
        return FmaUnits(2, 128, "Zen/Zen+ (family 0x17 < model 0x30): two 128-bit FMA [WC2]")
    if family == 0x17:
        return FmaUnits(2, 256, "Zen 2 (family 0x17): two 256-bit FMA [WC2]")
    if family == 0x19 and "avx512f" in cpu.flags:
        return FmaUnits(2, 256, "Zen 4 (family 0x19, avx512f): two 256-bit FMA; a 512-bit "
                        "FMA takes both halves [NW5]")  # fmt: skip
    if family == 0x19:
        return FmaUnits(2, 256, "Zen 3 (family 0x19): two 256-bit FMA [FL3]")
    if family == 0x1A and (model <= 0x0F or 0x40 <= model <= 0x4F):
        return FmaUnits(2, 512, f"Zen 5 server/desktop (family 0x1a model {model:#04x}): "
                        "two 512-bit FMA [NW5, CC5, PPR]")  # fmt: skip
    if family == 0x1A and 0x20 <= model <= 0x2F:
        return FmaUnits(2, 256, "Zen 5 mobile (Strix Point, family 0x1a model 0x2x): two "
                        "256-bit FMA [CC5]")  # fmt: skip
    return _assumed(cpu, 512 if "avx512f" in cpu.flags else 256)


# ---------------------------------------------------------------- the peak


def peak_from(
    cpuinfo: str,
    cpus: Iterable[int],
    siblings: Mapping[int, str],
    max_freq_khz: str | None,
    clock_override: float | None = None,
) -> Peak:
    """The peak from recorded texts: /proc/cpuinfo, the affinity mask, each CPU's
    thread_siblings_list, cpufreq's cpuinfo_max_freq (kHz, or None); clock_override in GHz."""
    cpu = parse_cpuinfo(cpuinfo)
    cores, cores_source = physical_cores(cpus, siblings)
    lanes, lanes_source = vector_lanes(cpu.flags)
    if clock_override:
        ghz, clock_source = clock_override, "(--clock-ghz, given on the command line)"
    else:
        ghz, clock_source = clock_ghz(max_freq_khz, cpu)
    units = fma_units(cpu)
    return Peak(cores, cores_source, lanes, lanes_source, units, ghz, clock_source)


def _read(path: Path) -> str | None:
    """A sysfs or procfs file's text, or None where it does not exist."""
    try:
        return path.read_text()
    except OSError:
        return None


def read_peak(clock_override: float | None = None) -> Peak:
    """This machine's peak, for the CPUs this process may run on; clock_override in GHz."""
    cpus = sorted(os.sched_getaffinity(0))
    siblings = {}
    for cpu in cpus:
        text = _read(SYS_CPU / f"cpu{cpu}" / "topology" / "thread_siblings_list")
        if text is not None:
            siblings[cpu] = text
    freqs = [_read(SYS_CPU / f"cpu{cpu}" / "cpufreq" / "cpuinfo_max_freq") for cpu in cpus]
    known = [int(f) for f in freqs if f and f.strip()]
    max_freq = str(max(known)) if known else None
    return peak_from(PROC_CPUINFO.read_text(), cpus, siblings, max_freq, clock_override)
