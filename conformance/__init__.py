"""Hypothesis-driven conformance suite for kill-switch implementations."""
