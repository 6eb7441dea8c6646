"""G.711 μ-law, as Twilio Media Streams carry it (8 kHz, one byte a sample).

Written here rather than taken from ``audioop``: that module is deprecated in Python 3.11 and gone
in 3.13, and the codec is two 256/65536-entry lookup tables built once with numpy.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .pcm import Pcm

_BIAS = 0x84
_CLIP = 32635


def _build_decode_table() -> Pcm:
    codes = ~np.arange(256, dtype=np.int32) & 0xFF
    sign = codes & 0x80
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = (((mantissa << 3) + _BIAS) << exponent) - _BIAS
    return np.where(sign != 0, -magnitude, magnitude).astype(np.int16)


def _build_encode_table() -> npt.NDArray[np.uint8]:
    samples = np.arange(-32768, 32768, dtype=np.int32)
    sign = np.where(samples < 0, 0x80, 0)
    magnitude = np.minimum(np.abs(samples), _CLIP) + _BIAS
    exponent = np.floor(np.log2(magnitude)).astype(np.int32) - 7
    exponent = np.clip(exponent, 0, 7)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return np.asarray(~(sign | (exponent << 4) | mantissa) & 0xFF, dtype=np.uint8)


_DECODE = _build_decode_table()
_ENCODE = _build_encode_table()


def mulaw_decode(data: bytes) -> Pcm:
    return _DECODE[np.frombuffer(data, dtype=np.uint8)]


def mulaw_encode(pcm: Pcm) -> bytes:
    return bytes(_ENCODE[pcm.astype(np.int32) + 32768].tobytes())
