"""Helpers shared by the tests: builders, waiting, processes, relays and step servers."""
