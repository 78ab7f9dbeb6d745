"""The `wsnas` command: one module per verb (`commands/`) and the views of run dirs."""

from wsnas.cli.main import main

__all__ = ["main"]
