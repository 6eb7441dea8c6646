"""Observation: traces of every call (the detectors, metrics and dashboard build on these)."""
