"""Reading configs: YAML files (with `_base_` chains) + `key.sub=value` overrides -> a checked model.

OmegaConf merges the layers; pydantic validates them; every error names the file or override,
the key, the value and what is allowed.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

import yaml
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from wsnas.config.schema import AnyConfig, ProxyConfig, RunConfig
from wsnas.config.shipped import looks_like_name, resolve_config, shipped_path
from wsnas.core.atomic import write_text_atomic
from wsnas.core.errors import ConfigError, did_you_mean
from wsnas.core.metric_definitions import MetricError

BASE_KEY = "_base_"


_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's parser where PyYAML was built with it (about 4x faster: a sweep spec of a million seeds is
read, and refused, in seconds), else the pure-Python one; both construct with SafeConstructor."""


class _UniqueKeyLoader(_SafeLoader):
    """SafeLoader that refuses a mapping holding the same key twice (YAML would keep the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str | int | float | bool) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml_mapping(path: Path, what: str = "config file") -> dict[str, Any]:
    """A YAML file whose top level is a mapping (empty file: {}); ConfigError names the file
    (unreadable, not UTF-8, invalid or too deeply nested YAML, a key given twice)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{what} {path}: cannot read ({e.strerror})") from None
    except UnicodeDecodeError as e:
        line, byte = e.object.count(b"\n", 0, e.start) + 1, e.object[e.start]
        raise ConfigError(f"{what} {path} line {line}: not UTF-8 text (byte {byte:#04x})") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader
    except yaml.YAMLError as e:
        if "maximum nesting depth" in str(e):  # libyaml's limit, where Python's parser recurses too deep
            raise ConfigError(f"{what} {path}: nested too deeply") from None
        raise ConfigError(f"{what} {path}: invalid YAML: {_one_line(e)}") from None
    except RecursionError:
        raise ConfigError(f"{what} {path}: nested too deeply") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {path}: top level must be a mapping, got {type(data).__name__}")
    return data


def _one_line(e: Exception) -> str:
    """E's message on one line; a YAML error as its problem and where (not the parser's excerpt)."""
    if isinstance(e, yaml.MarkedYAMLError) and e.problem:
        mark = e.problem_mark
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        return f"{e.problem}{at}"
    return " ".join(str(e).split())


def _merge(layers: list[Any], where: str) -> dict[str, Any]:
    """OmegaConf merge of LAYERS (later wins); ConfigError naming WHERE for clashing types."""
    try:
        return OmegaConf.to_container(OmegaConf.merge({}, *layers))  # type: ignore[return-value]
    except (OmegaConfBaseException, TypeError, ValueError) as e:
        raise ConfigError(f"{where}: cannot merge ({_one_line(e).split(' full_key:')[0]})") from None


def _read_yaml(path: Path, chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """PATH merged over its `_base_` chain; CHAIN holds the (resolved) files that named it."""
    if path.resolve() in chain:
        loop = " -> ".join(p.name for p in (*chain, path.resolve()))
        raise ConfigError(f"config file {path}: {BASE_KEY} loop: {loop}")
    data = read_yaml_mapping(path)
    base = data.pop(BASE_KEY, None)
    if base is None:
        return data
    if not isinstance(base, str) or not base:
        raise ConfigError(f"config file {path}: {BASE_KEY} must be a file name, got {base!r}")
    parent = _read_yaml(_base_path(path, base), (*chain, path.resolve()))
    return _merge([parent, data], f"config file {path} over its {BASE_KEY} {base}")


def _base_path(path: Path, base: str) -> Path:
    """The file `_base_: BASE` in PATH names: a file of that name next to PATH wins (as a path given to a
    command does), else the shipped config of that name (`_base_: nb201-quick`), as every command takes."""
    near = (path.parent / base).resolve()
    if near.exists() or not looks_like_name(base):
        return near
    try:
        return shipped_path(base)
    except ConfigError as e:
        raise ConfigError(f"config file {path}: {BASE_KEY} {base!r}: no file {near}, and {e}") from None


def load_config(
    path: str | os.PathLike | None = None,
    overrides: list[str] | None = None,
    model: type[Any] = RunConfig,
) -> Any:
    """YAML file (optional, may name a `_base_` file) + `key.sub=value` overrides -> MODEL
    (RunConfig for super-net runs, StandaloneConfig for stand-alone ones). PATH may be a shipped
    config's name (`nb201-quick`) where no file of that name exists."""
    layers: list[Any] = []
    if path is not None:
        path = resolve_config(path)
        layers.append(_read_yaml(path))
    given: list[tuple[str, Any]] = []  # (override as shown, what it sets)
    for item in overrides or []:
        shown = repr(item) if len(item) <= 80 else repr(item[:60]) + f"... ({len(item)} characters)"
        if "=" not in item:
            raise ConfigError(f"override {shown}: expected key.sub=value")
        try:
            layers.append(OmegaConf.from_dotlist([item]))
        except yaml.YAMLError as e:
            raise ConfigError(f"override {shown}: invalid YAML value: {_one_line(e)}") from None
        except (OmegaConfBaseException, ValueError) as e:
            raise ConfigError(f"override {shown}: {_one_line(e)}") from None
        except RecursionError:
            raise ConfigError(f"override {shown}: nested too deeply") from None
        given.append((f"override {shown}", OmegaConf.to_container(layers[-1])))
    source = str(path) if path else "overrides"
    merged = _merge(layers, f"{source} + overrides") if layers else {}

    def origin(loc: tuple[str, ...]) -> str | None:
        """The last override that set the key at LOC (it wins the merge), else None (the file)."""
        return next((shown for shown, sets in reversed(given) if _sets(sets, loc)), None)

    return validate(merged, source=source, model=model, origin=origin)


def _sets(layer: Any, loc: tuple[str, ...]) -> bool:
    """Whether LAYER (a nested mapping) gives the key at LOC, or a value holding it."""
    for part in loc:
        if not isinstance(layer, dict):
            return True  # LOC lies inside a value this layer gives (a list's item)
        if part not in layer:
            return False
        layer = layer[part]
    return True


def validate(
    data: dict[str, Any],
    source: str = "config",
    model: type[Any] = RunConfig,
    origin: Callable[[tuple[str, ...]], str | None] | None = None,
) -> Any:
    """DATA as MODEL, or a ConfigError naming where each wrong key came from: ORIGIN's answer for its
    path (e.g. the override that set it), else SOURCE."""
    try:
        cfg = model.model_validate(data)
    except ValidationError as e:
        groups: dict[str, list[ErrorDetails]] = {}
        for err in e.errors():
            where = origin(tuple(str(p) for p in err["loc"])) if origin is not None else None
            groups.setdefault(where or source, []).append(err)
        raise ConfigError(
            "; ".join(
                f"{where}: "
                + "; ".join(
                    explain_errors(
                        errs,
                        lambda err: _explain(err, model),
                        lambda err: tuple(str(p) for p in err["loc"]),
                        lambda parent: _fields_at(parent, model),
                    )
                )
                for where, errs in groups.items()
            )
        ) from None
    except RecursionError:
        raise ConfigError(f"{source}: nested too deeply") from None
    if isinstance(cfg, RunConfig):
        try:
            k = cfg.metrics().k
        except MetricError as e:
            raise ConfigError(f"{source}: key 'eval.metric_definition': {e}") from None
        if k > cfg.eval.pool_size:
            paper = cfg.eval.metric_definition == "paper"
            what = f"eval.top_k': got {k}" if paper else f"eval.metric_definition': its top-{k} is"
            raise ConfigError(
                f"{source}: key '{what}; larger than eval.pool_size "
                f"({cfg.eval.pool_size}), the pool it picks from"
            )
    if isinstance(cfg, RunConfig):
        check_schedule(source, "protocol", cfg.protocol.lr, cfg.protocol.lr_min, cfg.protocol.epochs)
        check_eval_epochs(source, "eval.epochs", cfg.eval.epochs, cfg.protocol.epochs, "protocol.epochs")
    proxy = getattr(cfg, "proxy", None)
    if isinstance(proxy, ProxyConfig):
        check_schedule(source, "proxy", proxy.lr, proxy.lr_min, proxy.epochs)
        check_eval_epochs(source, "proxy.eval_epochs", proxy.eval_epochs, proxy.epochs, "proxy.epochs")
    return cfg


def check_schedule(source: str, section: str, lr: float | None, lr_min: float, epochs: int | None) -> None:
    """The cosine decays from lr to lr_min: a floor above the start would make it rise."""
    if lr is not None and lr_min > lr:
        raise ConfigError(
            f"{source}: key '{section}.lr_min': got {lr_min}; above {section}.lr ({lr}), so the "
            "cosine schedule would rise instead of decay"
        )


def check_eval_epochs(source: str, key: str, epochs: list[int], last: int | None, last_key: str) -> None:
    """Epochs are counted from 1: 0 or less is an error; entries beyond the run's last epoch never happen
    (a warning naming them: a shipped config shrunk with `protocol.epochs=N` keeps its list)."""
    bad = [e for e in epochs if e < 1]
    if bad:
        raise ConfigError(
            f"{source}: key '{key}': got {', '.join(map(str, bad))}; epochs count from 1 (after the first)"
        )
    beyond = sorted({e for e in epochs if last is not None and e > last})
    if beyond:
        warnings.warn(
            f"{source}: {key} {', '.join(map(str, beyond))} beyond {last_key}={last}: never evaluated "
            f"(the last epoch always is)",
            stacklevel=3,
        )


SHOWN = 5
"""Unknown keys named per section, and errors explained, before the rest are only counted: a file of
300,000 misspelt keys gets a short message (the allowed keys once), not one line per key."""


def explain_errors(
    errors: list[ErrorDetails],
    explain: Callable[[ErrorDetails], str],
    loc_of: Callable[[ErrorDetails], tuple[str, ...]],
    allowed_at: Callable[[tuple[str, ...]], list[str]],
) -> list[str]:
    """ERRORS as messages: unknown keys grouped by section (the first SHOWN and their count, the allowed
    keys once), every other error by EXPLAIN; past SHOWN messages the rest are counted, not listed."""
    items: list[ErrorDetails | tuple[str, ...]] = []  # an error, or the section of a group of unknown keys
    unknown: dict[tuple[str, ...], list[ErrorDetails]] = {}
    for err in errors:
        loc = loc_of(err)
        if err["type"] != "extra_forbidden" or not loc:
            items.append(err)
            continue
        if loc[:-1] not in unknown:
            items.append(loc[:-1])
        unknown.setdefault(loc[:-1], []).append(err)
    out: list[str] = []
    for item in items[:SHOWN]:
        if not isinstance(item, tuple):
            out.append(explain(item))
        elif len(unknown[item]) == 1:
            out.append(explain(unknown[item][0]))
        else:
            allowed, where, errs = allowed_at(item), ".".join(item) or "top level", unknown[item]
            keys = ", ".join(
                f"'{'.'.join(loc_of(e))}'{did_you_mean(loc_of(e)[-1], allowed)}" for e in errs[:SHOWN]
            )
            more = f" and {len(errs) - SHOWN:,} more" if len(errs) > SHOWN else ""
            out.append(
                f"{len(errs):,} unknown keys at {where}: {keys}{more}; "
                f"allowed keys at {where}: {', '.join(allowed)}"
            )
    if len(items) > SHOWN:
        rest = items[SHOWN:]
        count = sum(len(unknown[i]) if isinstance(i, tuple) else 1 for i in rest)
        out.append(f"and {count:,} more error{'s' * (count != 1)}")
    return out


def shown_value(value: Any, width: int = 120) -> str:
    """VALUE's repr, cut to about WIDTH characters (with its full length): a 1.3-million-item list is
    not printed whole in an error."""
    text = repr(value)
    return text if len(text) <= width else f"{text[: width - 20]}... ({len(text):,} characters)"


def _annotation_at(loc: tuple, root: Any = RunConfig) -> Any:
    """The type annotation of the field at a config path (None if there is none)."""
    model: Any = root
    for part in loc:
        field = model.model_fields.get(part) if hasattr(model, "model_fields") else None
        if field is None:
            return None
        model = field.annotation
    return model


def _fields_at(loc: tuple, root: Any = RunConfig) -> list[str]:
    model = _annotation_at(loc, root)
    if hasattr(model, "field_order"):  # a whole run config: in its own order
        return list(model.field_order())
    return list(model.model_fields) if hasattr(model, "model_fields") else []


def _explain(err: ErrorDetails, root: Any = RunConfig) -> str:
    loc = tuple(str(p) for p in err["loc"])
    key = ".".join(loc)
    if err["type"] == "extra_forbidden":
        allowed = _fields_at(loc[:-1], root)
        where = ".".join(loc[:-1]) or "top level"
        return (
            f"unknown key '{key}'; allowed keys at {where}: {', '.join(allowed)}"
            f"{did_you_mean(loc[-1], allowed)}"
        )
    value = err.get("input")
    msg = err["msg"]
    if err["type"] == "literal_error":
        allowed = [str(a) for a in get_args(_annotation_at(loc, root))]
        return (
            f"key '{key}': got {shown_value(value)}; allowed values: {', '.join(allowed)}"
            f"{did_you_mean(str(value), allowed)}"
        )
    if err["type"] == "value_error":
        msg = msg.removeprefix("Value error, ")
    return f"key '{key}': got {shown_value(value)}; {msg}"


def dump_config(cfg: AnyConfig, path: str | os.PathLike) -> None:
    """Write the resolved config atomically (temp file, then rename)."""
    write_text_atomic(Path(path), yaml.safe_dump(cfg.to_dict(), sort_keys=False))
