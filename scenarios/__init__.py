"""Bundled scenario files (TOML), loadable from an installed package."""
