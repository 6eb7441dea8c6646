"""Observation: the JSONL trace of every call (one typed event per line, the same events the client gets)."""
