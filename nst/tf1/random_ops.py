"""TensorFlow 1.x's float32 normal draws, bit for bit, in NumPy.

The course's stored outputs (for example the Gram-matrix cell's
`[[  6.42230511 ...`) were printed by TF 1.x on Linux in 2017-2018. TF 2 draws
from the same stream but rounds some numbers differently, by 1 to 3 units in
the last place. Both versions use Philox4x32-10 keyed by `seed`, with `seed2`
in the upper half of the 128-bit counter; group g of four outputs uses counter
g, and its four 32-bit words make two Box-Muller pairs (words 0, 1 give
outputs 4g and 4g+1; words 2, 3 give 4g+2 and 4g+3). Each run of a stateful
op first moves the counter on by 256 per output (TF's ReserveRandomOutputs).
TensorFlow's BoxMullerFloat (tensorflow/core/lib/random/random_distributions.h):

    u1 = max(Uint32ToFloat(x0), 1e-7f)
    v1 = (float)(2.0f * M_PI * Uint32ToFloat(x1))      the product in double
    u2 = sqrt(-2.0f * log(u1))
    sincosf(v1, &f0, &f1);  f0 *= u2;  f1 *= u2

Two things of that line differ between TF 1.x's Linux wheels and TF 2:

* `log` and `sqrt` are unqualified. With the GCC 4.8-era headers of TF 1.x's
  wheels they were C's double `log(double)` and `sqrt(double)`, so
  u2 = (float)sqrt(-2.0 * log((double)u1)), rounded once; TF 2 calls the float
  `logf` and `sqrtf`, which give another float u2 for 12.8% of the 2^23 u1.
* `sincosf` is the C library's. glibc 2.23-2.26 on x86-64 (Ubuntu 16.04, Debian
  9) computed it in SSE2 assembly (sysdeps/x86_64/fpu/s_sincosf.S), in double,
  rounded once; today's glibc differs on about 1.3% of the angles.
  `sincosf_glibc_2_23` computes what that routine computed: the same reduction
  and polynomials (coefficients given as the routine's double-precision bit
  patterns), in the same order of double operations. It was checked bit for
  bit against the assembled glibc 2.23 routine on all 2^23 angles Box-Muller
  can produce.

With both, the seven stored outputs of seeded normal draws collected from the
course's Linux notebooks (tests/test_tf1_draws.py) are reproduced to the last
printed digit; with TF 2's arithmetic, three of them differ.
"""

from __future__ import annotations

import math

import numpy as np

RESERVED_PER_OUTPUT = 256
"""Philox counters a stateful op moves on by, per output, at each run."""
MAX_RUNS_SEARCHED = 1 << 20
"""Runs of one op in one session that `run_of` can tell apart from its first numbers."""

_LOW32 = np.uint64(0xFFFFFFFF)
_PHILOX_M0, _PHILOX_M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_PHILOX_W0, _PHILOX_W1 = 0x9E3779B9, 0xBB67AE85


def philox4x32(seed: int, seed2: int, counters: np.ndarray) -> np.ndarray:
    """Philox4x32-10's four uint32 words (shape (..., 4)) for each 64-bit counter value
    (the lower half of TF's 128-bit counter; the upper half is seed2; the key is seed)."""
    seed, seed2 = seed % 2**64, seed2 % 2**64
    c = np.asarray(counters, dtype=np.uint64)
    c0, c1 = c & _LOW32, c >> np.uint64(32)
    c2 = np.full(c.shape, seed2 & 0xFFFFFFFF, np.uint64)
    c3 = np.full(c.shape, seed2 >> 32, np.uint64)
    k0, k1 = seed & 0xFFFFFFFF, seed >> 32
    for r in range(10):
        p0, p1 = _PHILOX_M0 * c0, _PHILOX_M1 * c2  # 32 x 32 -> 64-bit products, exact
        key0 = np.uint64((k0 + r * _PHILOX_W0) & 0xFFFFFFFF)
        key1 = np.uint64((k1 + r * _PHILOX_W1) & 0xFFFFFFFF)
        c0, c1, c2, c3 = (
            (p1 >> np.uint64(32)) ^ c1 ^ key0,
            p1 & _LOW32,
            (p0 >> np.uint64(32)) ^ c3 ^ key1,
            p0 & _LOW32,
        )
    return np.stack([c0, c1, c2, c3], axis=-1).astype(np.uint32)


def uint32_to_float(words: np.ndarray) -> np.ndarray:
    """TF's Uint32ToFloat: the low 23 bits as the mantissa of a float in [1, 2), minus 1."""
    bits = (np.asarray(words, np.uint32) & np.uint32(0x7FFFFF)) | np.uint32(0x3F800000)
    return bits.view(np.float32) - np.float32(1.0)


def _double(bits: int) -> float:
    """The double whose IEEE 754 bit pattern is `bits`."""
    return float(np.array(bits, dtype=np.uint64).view(np.float64))


# s_sincosf.S's polynomial coefficients, (sine, cosine) each, for |t| < pi/4:
# sin t = t + t (y K0 + y^2 K1 + ... + y^5 K4), cos t = 1 + (y K0 + ... + y^5 K4), y = t^2.
_K = [
    (_double(0xBFC5555555551CD9), _double(0xBFDFFFFFFFFE98AE)),
    (_double(0x3F81111110C2688B), _double(0x3FA55555545C50C7)),
    (_double(0xBF2A019F8B4BD1F9), _double(0xBF56C16B348B6874)),
    (_double(0x3EC71D7264E6B5B4), _double(0x3EFA00EB9AC43CC0)),
    (_double(0xBE5A947E1674B58A), _double(0xBE923C97DD8844D7)),
]
# and for 2^-27 <= |x| < 2^-5: sin x = x + x x^2 (D0 + x^2 D1), cos x = 1 + x^2 (D0 + x^2 D1).
_D = [
    (_double(0xBFC555555543D49D), _double(0xBFDFFFFFFF5CC6FD)),
    (_double(0x3F8110F475CEC8C5), _double(0x3FA55514B178DAC5)),
]
_PI_OVER_4_TIMES = np.array(
    [0.0, _double(0x3FF921FB54442D18), _double(0x400921FB54442D18),
     _double(0x4012D97C7F3321D2), _double(0x401921FB54442D18), _double(0x401F6A7A2955385E)]
)  # fmt: skip
"""j pi / 4 for j = 0, 2, 4, ..., 10, in double."""
_FOUR_OVER_PI_FLOAT = np.array(0x3FA2F983, np.uint32).view(np.float32)
_PI_OVER_4_BITS, _TWO_TO_MINUS_5_BITS, _TWO_TO_MINUS_27_BITS = 0x3F490FDB, 0x3D000000, 0x32000000
_NINE_PI_OVER_4_BITS = 0x40E231D6


def _polynomial(t: np.ndarray, m, lane: int, big: bool) -> np.ndarray:
    """The routine's polynomial for one lane (0: sine, 1: cosine), times m, plus m; the two
    branches add the same terms in another order."""
    y = t * t
    z = y * y
    a = ((z * _K[4][lane] + _K[2][lane]) * z + _K[0][lane]) * y
    b = (z * _K[3][lane] + _K[1][lane]) * z
    return (b + a) * m + m if big else m + (a * m + b * m)


def sincosf_glibc_2_23(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sin x, cos x) of float32 x, |x| < 9 pi / 4, as glibc 2.23-2.26's x86-64 sincosf
    computed them (see the module's doc)."""
    x = np.asarray(x, dtype=np.float32)
    magnitude = x.view(np.uint32) & np.uint32(0x7FFFFFFF)
    if np.any(magnitude >= np.uint32(_NINE_PI_OVER_4_BITS)):
        raise ValueError("sincosf_glibc_2_23 covers |x| < 9 pi / 4 only")
    sin, cos = np.empty(x.shape, np.float64), np.empty(x.shape, np.float64)
    # pi/4 <= |x|: the octant from a single-precision product, the reduction in double
    big = magnitude >= np.uint32(_PI_OVER_4_BITS)
    if np.any(big):
        xa = np.abs(x[big])
        n = (xa * _FOUR_OVER_PI_FLOAT).astype(np.float32).astype(np.int64) + 1
        t = xa.astype(np.float64) - _PI_OVER_4_TIMES[(n & 0x0E) >> 1]
        sin_t, cos_t = _polynomial(t, t, 0, True), _polynomial(t, 1.0, 1, True)
        negative = (x[big].view(np.uint32) >> np.uint32(31)).astype(np.int64)
        swap = (n & 2) != 0
        sin[big] = np.where(swap, cos_t, sin_t) * np.where(negative ^ ((n >> 2) & 1), -1.0, 1.0)
        cos[big] = np.where(swap, sin_t, cos_t) * np.where(((n + 2) >> 2) & 1, -1.0, 1.0)
    middle = ~big & (magnitude >= np.uint32(_TWO_TO_MINUS_5_BITS))
    if np.any(middle):
        t = x[middle].astype(np.float64)
        sin[middle], cos[middle] = _polynomial(t, t, 0, False), _polynomial(t, 1.0, 1, False)
    small = (magnitude < np.uint32(_TWO_TO_MINUS_5_BITS)) & (
        magnitude >= np.uint32(_TWO_TO_MINUS_27_BITS)
    )
    if np.any(small):
        t = x[small].astype(np.float64)
        x2 = t * t
        for lane, m, out in ((0, t, sin), (1, 1.0, cos)):
            out[small] = ((x2 * _D[1][lane] + _D[0][lane]) * x2) * m + m
    sin32, cos32 = sin.astype(np.float32), cos.astype(np.float32)  # one rounding each
    tiny = magnitude < np.uint32(_TWO_TO_MINUS_27_BITS)
    if np.any(tiny):
        t = x[tiny].astype(np.float64)
        sin32[tiny] = np.where(t == 0.0, x[tiny], (t - t * 2.0**-50).astype(np.float32))
        cos32[tiny] = np.where(t == 0.0, np.float32(1.0), np.float32(1.0) - np.abs(x[tiny]))
    return sin32, cos32


def box_muller_tf1(x0: np.ndarray, x1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """TF 1.x's BoxMullerFloat on Linux for arrays of uint32 word pairs: two float32 normals."""
    u1 = np.maximum(uint32_to_float(x0), np.float32(1.0e-7))
    v1 = (2.0 * np.pi * uint32_to_float(x1).astype(np.float64)).astype(np.float32)
    u2 = np.sqrt(-2.0 * np.log(u1.astype(np.float64))).astype(np.float32)
    sin, cos = sincosf_glibc_2_23(v1)
    return sin * u2, cos * u2


def standard_normal(shape, seed: int, seed2: int, run: int = 0) -> np.ndarray:
    """The float32 numbers of TF 1.x's RandomStandardNormal(shape, seed, seed2) at the op's
    `run`-th run in a session (0: the first)."""
    shape = tuple(int(d) for d in shape)
    n = math.prod(shape)
    start = run * n * RESERVED_PER_OUTPUT
    words = philox4x32(seed, seed2, np.arange(start, start + (n + 3) // 4, dtype=np.uint64))
    f0, f1 = box_muller_tf1(words[:, 0], words[:, 1])
    f2, f3 = box_muller_tf1(words[:, 2], words[:, 3])
    return np.stack([f0, f1, f2, f3], axis=1).reshape(-1)[:n].reshape(shape)


def truncated_normal(shape, seed: int, seed2: int, run: int = 0) -> np.ndarray:
    """The float32 numbers of TF 1.x's TruncatedNormal(shape, seed, seed2) at its `run`-th run:
    group g of four outputs starts at counter g * 256; its words feed Box-Muller pair by pair,
    and the values below 2 in magnitude are kept, in order, until there are four."""
    shape = tuple(int(d) for d in shape)
    n = math.prod(shape)
    groups = (n + 3) // 4
    start = run * n * RESERVED_PER_OUTPUT
    out = np.empty((groups, 4), np.float32)
    pending = np.arange(groups, dtype=np.uint64)
    calls = 2  # Philox calls tried per group at once: 8 candidates for 4 outputs
    while pending.size:
        if calls > RESERVED_PER_OUTPUT:
            raise RuntimeError("a truncated normal group needed more than 256 Philox calls")
        first = np.uint64(start) + pending * np.uint64(RESERVED_PER_OUTPUT)
        counters = first[:, None] + np.arange(calls, dtype=np.uint64)[None, :]
        words = philox4x32(seed, seed2, counters).reshape(pending.size, 2 * calls, 2)
        f0, f1 = box_muller_tf1(words[..., 0], words[..., 1])
        candidates = np.stack([f0, f1], axis=-1).reshape(pending.size, 4 * calls)
        kept = np.abs(candidates) < np.float32(2.0)
        done = kept.sum(axis=1) >= 4
        rank = np.cumsum(kept, axis=1) - 1
        chosen = kept & (rank < 4) & done[:, None]
        rows, _ = np.nonzero(chosen)
        out[pending[rows].astype(np.int64), rank[chosen]] = candidates[chosen]
        pending = pending[~done]
        calls *= 2
    return out.reshape(-1)[:n].reshape(shape)


def run_of(uniforms: np.ndarray, seed: int, seed2: int, guess: int = 0) -> int:
    """Which run of a stateful op, in its session, drew `uniforms`: the output of TF's
    RandomUniform(shape, seed, seed2), whose runs move the counter on exactly as a normal op
    of that shape does. Its first (up to four) numbers are matched against each run's,
    trying `guess` first; ValueError if no run up to MAX_RUNS_SEARCHED matches."""
    first = np.asarray(uniforms, np.float32).reshape(-1)[:4]
    n = np.asarray(uniforms).size
    step = n * RESERVED_PER_OUTPUT

    def matches(runs: np.ndarray) -> np.ndarray:
        words = philox4x32(seed, seed2, runs.astype(np.uint64) * np.uint64(step))
        return np.all(uint32_to_float(words)[:, : first.size] == first, axis=1)

    if first.size == 0 or matches(np.array([guess]))[0]:
        return guess
    for low in range(0, MAX_RUNS_SEARCHED, 1 << 14):
        runs = np.arange(low, low + (1 << 14))
        found = np.flatnonzero(matches(runs))
        if found.size:
            return int(runs[found[0]])
    raise ValueError(f"no run of the op up to {MAX_RUNS_SEARCHED:,} drew these numbers")
