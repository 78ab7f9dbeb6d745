"""argparse with did-you-mean: every enumerated option (and every verb) names the closest choice.

`wsnas search --algo evolutoin` says `invalid choice: 'evolutoin' (did you mean 'evolution'?)`,
the same hint a misspelt config key gets (`wsnas.core.errors.did_you_mean`). Sub-parsers made
with `add_subparsers` are of the parser's own class, so one class at the top covers every verb.
"""

from __future__ import annotations

import argparse
from typing import Any

from wsnas.core.errors import did_you_mean


class HintingParser(argparse.ArgumentParser):
    """An ArgumentParser whose `choices` errors list the choices and the closest one."""

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        if action.choices is not None and value not in action.choices:
            names = [str(c) for c in action.choices]
            hint = did_you_mean(str(value), names)
            raise argparse.ArgumentError(
                action, f"invalid choice: {value!r} (choose from {', '.join(names)}){hint}"
            )
