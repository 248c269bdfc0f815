"""Servers the benchmark starts: the two Flask references and the peer model servers (one module each)."""
