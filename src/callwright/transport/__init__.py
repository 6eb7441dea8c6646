"""Transports: the native WebSocket protocol, Twilio Media Streams, and in-memory for tests."""
