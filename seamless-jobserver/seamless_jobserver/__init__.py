"""Seamless jobserver: not built yet."""
