"""Renders SLA latency and conformance reports."""
