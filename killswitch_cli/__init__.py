"""The ``killswitch`` command line: one entry point, subcommands loaded lazily."""
