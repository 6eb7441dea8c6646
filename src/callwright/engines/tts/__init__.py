"""Text-to-speech engines: ``piper`` and ``espeak`` (both GPL-3.0, imported only when selected)."""
