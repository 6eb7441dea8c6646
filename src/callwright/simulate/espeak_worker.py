"""Synthesise SSML documents with espeak-ng in a process of their own, for reproducible callers.

libespeak-ng keeps state from one synthesis to the next in C statics (the index into its pitch
flutter table, among others), so in one process the same text comes out a few samples different
each time. A fresh process starts from the same state, so the simulator runs this file as a script
(``python -S -I espeak_worker.py LIBRARY DATA VOICE``), once per utterance: it reads a JSON list of
SSML documents on stdin and writes the sample rate, then each document's audio as a length-prefixed
block of little-endian int16 samples. It imports nothing but the standard library (about 70 ms a
run here, most of it espeak-ng's initialisation). espeak-ng is GPL-3.0+; this runs only when an
espeak voice is selected.
"""

import ctypes
import json
import struct
import sys

_SYNCHRONOUS, _BUFFER_MS, _UTF8_SSML = 2, 100, 1 | 0x10  # espeakCHARS_UTF8 | espeakSSML
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


def main() -> None:
    library, data, voice = sys.argv[1:4]
    espeak = ctypes.CDLL(library)
    espeak.espeak_Initialize.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int)
    espeak.espeak_SetVoiceByName.argtypes = (ctypes.c_char_p,)
    espeak.espeak_SetSynthCallback.argtypes = (_CALLBACK,)
    espeak.espeak_Synth.argtypes = (
        ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint, ctypes.c_uint,
        ctypes.c_void_p, ctypes.c_void_p,
    )
    rate = espeak.espeak_Initialize(_SYNCHRONOUS, _BUFFER_MS, data.encode(), 0)
    if rate <= 0 or espeak.espeak_SetVoiceByName(voice.encode()) != 0:
        sys.exit(f"espeak-ng could not start voice {voice!r} (data at {data})")
    pieces: list[bytes] = []

    def collect(wav: "ctypes._Pointer[ctypes.c_short]", count: int, events: object) -> int:
        if count > 0:
            pieces.append(ctypes.string_at(wav, count * 2))
        return 0

    callback = _CALLBACK(collect)
    espeak.espeak_SetSynthCallback(callback)
    out = sys.stdout.buffer
    out.write(struct.pack("<i", rate))
    for document in json.load(sys.stdin):
        pieces.clear()
        encoded = document.encode("utf-8") + b"\0"
        if espeak.espeak_Synth(encoded, len(encoded), 0, 0, 0, _UTF8_SSML, None, None) != 0:
            sys.exit("espeak_Synth failed")
        audio = b"".join(pieces)
        out.write(struct.pack("<i", len(audio)) + audio)


if __name__ == "__main__":
    main()
