"""``killswitch`` CLI entry point.

Subcommands live next to the code they drive (``sim/cli.py``,
``conformance/cli.py``, ``reports/cli.py``) and are imported only when used,
so ``killswitch --help`` stays fast. Exit codes everywhere: 0 ok, 1 a check
failed, 2 bad input or usage, 130 interrupted (Ctrl-C; what was done is kept).
"""

from __future__ import annotations

import importlib
import sys

import click

#: Subcommand name -> "module:attribute" of its click command.
SUBCOMMANDS: dict[str, str] = {
    "demo": "killswitch_cli.demo:demo",
    "sim": "sim.cli:sim",
    "conform": "conformance.cli:conform",
    "vectors": "conformance.cli:vectors",
    "report": "reports.cli:report",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use (like Hypothesis's lazy imports)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in SUBCOMMANDS if self._available(name))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = SUBCOMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # not built yet; anything else is a real bug
                return None
            raise
        command = getattr(module, attr, None)
        return command if isinstance(command, click.Command) else None

    def invoke(self, ctx: click.Context) -> object:
        # Subcommands turn Ctrl-C into exit 130 once they run; before that (while
        # a subcommand's modules load) click would say "Aborted!" and exit 1.
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)

    def _available(self, name: str) -> bool:
        return self.get_command(click.Context(self), name) is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="killswitch")
def main() -> None:
    """Prove an AI-agent kill switch works before you need it.

    Simulate kill-switch scenarios deterministically (sim), test any listener
    implementation against the protocol (conform, vectors), and render SLA
    reports (report). Exit codes: 0 ok, 1 a check failed, 2 bad input,
    130 interrupted (Ctrl-C: what was done so far is reported and written).
    """


if __name__ == "__main__":
    main()
