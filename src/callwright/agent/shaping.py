"""Text shaped for the ear: sentence streaming and speakable text.

:class:`SentenceSplitter` turns a stream of text deltas (from an LLM or a script) into complete
sentences as soon as each one ends, so synthesis of the first sentence starts while the rest is
still being written. :func:`speakable` strips what a voice cannot say (markdown, emoji, URLs).
"""

from __future__ import annotations

import re

_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "st", "vs", "etc", "e.g", "i.e", "no", "approx", "apt"}
_END = re.compile(r"([.!?…]+)[\"')\]]*(\s+)")
_MARKDOWN = re.compile(r"(\*\*|__|`+|^#+\s*|^\s*[-*+]\s+|^\s*\d+\.\s+|\[([^\]]*)\]\([^)]*\))", re.MULTILINE)
_EMOJI = re.compile("[\U0001f000-\U0001faff\U00002600-\U000027bf\U0001f900-\U0001f9ff\ufe0f\u200d]+")
_URL = re.compile(r"https?://\S+")


class SentenceSplitter:
    def __init__(self, min_chars: int = 12) -> None:
        self._buf = ""
        self._min = min_chars

    def feed(self, delta: str) -> list[str]:
        self._buf += delta
        out: list[str] = []
        start = 0
        for m in _END.finditer(self._buf):
            candidate = self._buf[start : m.end(1)].strip()
            last_word = candidate.rsplit(" ", 1)[-1].rstrip(".").lower()
            if m.group(1) == "." and (last_word in _ABBREVIATIONS or re.fullmatch(r"\d+", last_word)):
                continue  # "Dr. Smith", "No. 5", "3.5" are not sentence ends
            if len(candidate) < self._min:
                continue  # keep very short pieces ("Yes.") with what follows
            out.append(candidate)
            start = m.end()
        self._buf = self._buf[start:]
        return out

    def flush(self) -> list[str]:
        rest, self._buf = self._buf.strip(), ""
        return [rest] if rest else []


def speakable(text: str) -> str:
    """Remove markdown, emoji and links; collapse whitespace."""
    text = _MARKDOWN.sub(lambda m: m.group(2) or "", text)
    text = _URL.sub("the link", text)
    text = _EMOJI.sub("", text)
    return re.sub(r"\s+", " ", text).strip()
