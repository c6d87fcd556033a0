"""Hypothesis-driven conformance suite for kill-switch implementations.

Any listener — Python in-process (``--impl module:factory``) or any language
as a subprocess (``--cmd``, newline-delimited JSON) — is tested through the
adapter contract of :mod:`conformance.adapter` (``conformance/PROTOCOL.md``)
against SPEC.md: a verdict per case tied to requirement ids, a shrunk,
replayable counterexample per failure, and the conformance level reached.
Entry points: ``killswitch conform``, ``killswitch vectors``, the pytest
plugin :mod:`conformance.pytest_plugin`, and :func:`conformance.runner.run_suite`.
"""
