"""Tones for the media scenarios: a sine generator and the dominant frequency of a recording by FFT
(pure Python: numpy is not a dependency of the project)."""

from __future__ import annotations

import cmath
import math
import struct


def sine(frequency: float, rate: int, start: int, count: int, amplitude: int = 8000) -> bytes:
    """`count` s16 little-endian mono samples of a sine, from sample index `start`."""
    step = 2 * math.pi * frequency / rate
    return struct.pack(f"<{count}h", *(int(amplitude * math.sin(step * (start + i))) for i in range(count)))


def _fft(values: list[complex]) -> list[complex]:
    """Iterative radix-2 Cooley-Tukey; len(values) must be a power of two."""
    n = len(values)
    out = values[:]
    j = 0
    for i in range(1, n):  # bit-reversal permutation
        bit = n >> 1
        while j & bit:
            j ^= bit
            bit >>= 1
        j |= bit
        if i < j:
            out[i], out[j] = out[j], out[i]
    size = 2
    while size <= n:
        w_step = cmath.exp(-2j * math.pi / size)
        for start in range(0, n, size):
            w = 1 + 0j
            for k in range(size // 2):
                a, b = out[start + k], out[start + k + size // 2] * w
                out[start + k], out[start + k + size // 2] = a + b, a - b
                w *= w_step
        size <<= 1
    return out


def spectrum_peak(samples: list[int], rate: int, size: int = 8192) -> tuple[float, float, float]:
    """(dominant frequency in Hz, its share of the spectrum's energy, RMS level) of the last `size`
    samples (Hann window). A clean tone gives a share close to 1."""
    if len(samples) < size:
        raise ValueError(f"only {len(samples)} samples, {size} needed")
    chunk = samples[-size:]
    rms = math.sqrt(sum(s * s for s in chunk) / size)
    window = [0.5 - 0.5 * math.cos(2 * math.pi * i / (size - 1)) for i in range(size)]
    bins = _fft([complex(s * w) for s, w in zip(chunk, window, strict=True)])[1 : size // 2]
    power = [abs(b) ** 2 for b in bins]
    peak = max(range(len(power)), key=power.__getitem__)
    near = sum(power[max(0, peak - 3) : peak + 4])
    total = sum(power) or 1.0
    return (peak + 1) * rate / size, near / total, rms
