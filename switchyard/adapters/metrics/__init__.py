"""Prometheus metrics: their definitions, the collectors computed at scrape time, each
process's registry, and the HTTP server that exposes it."""
