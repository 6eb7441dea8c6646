"""Audio plumbing: PCM16 helpers, μ-law, resampling and WAV files.

Inside a call, audio is mono 16-bit PCM held as ``numpy.int16`` arrays. Callwright listens at
16 kHz (:data:`LISTEN_RATE`); each transport converts at its edge.
"""

from .codecs import mulaw_decode, mulaw_encode
from .pcm import FRAME_MS, LISTEN_RATE, frame_samples, from_bytes, rms_dbfs, to_bytes, to_float
from .resample import Resampler, resample
from .wav import read_wav, write_wav

__all__ = [
    "FRAME_MS", "LISTEN_RATE", "Resampler", "frame_samples", "from_bytes", "mulaw_decode", "mulaw_encode",
    "read_wav", "resample", "rms_dbfs", "to_bytes", "to_float", "write_wav",
]
