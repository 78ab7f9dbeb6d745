"""The run configuration: one typed field per factor of the paper's Table 1.

YAML files and `key.sub=value` overrides are merged by OmegaConf; the result is
validated by pydantic models (types, ranges, allowed values). Names that refer
to registries (space, sampler, data set) and the factors a space honours are
checked one layer up, by `wsnas.spaces.check.check_config`. Defaults are the
paper's tuned NASBench-201 protocol (REFERENCE.md section 3); the YAML files in
`configs/` set the per-space values.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from wsnas.atomic import write_text_atomic
from wsnas.errors import ConfigError, did_you_mean

NOT_IDENTITY: tuple[str, ...] = ("out_dir", "name", "runtime", "logging", "data.root", "bench.cache_dir",
                                 "bench.source", "bench.allow_metric_mismatch")
"""Dotted config keys that never define a run's config hash: where files live or go, how a run is
run and whether a check is waived (the data, split and metric it waives are in the hash). What of
them still changes the numbers is in the run's full identity (`wsnas.identity`): the ground truth's
content checksum (not bench.source, a path), the effective numerics (runtime.amp on
CUDA) and the world size."""


MEANING_VERSIONS: dict[tuple[str, str], int] = {("mapping.dynamic_channels", "shuffle"): 2}
"""Config values whose meaning changed after runs were made with them, and the meaning's version.
They are hashed as `VALUE@vN`, so a run made under the old meaning never shares a config hash
(run dir name, checkpoint guard, identity) with one made under the new: resuming or reusing it
is refused, and a report keeps the two apart. v2 of `shuffle`: the authors' per-axis random
channel subsets (the old meaning is now `shuffle_consistent`, docs/factors.md)."""


ADDED_FIELDS: dict[str, Any] = {"mapping.dropout_path_at": "edges"}
"""Config fields added after runs were made, each with its default (the behaviour before it existed).
A field at that default is left out of the hash, so every config that existed before keeps its hash
(run dir name, checkpoint guard, identity) and its runs stay resumable and reusable; any other value
is hashed and makes a new run. A default must therefore be exactly what the code did before."""


def _parent(d: dict[str, Any], key: str) -> tuple[dict[str, Any], str]:
    *parents, last = key.split(".")
    node = d
    for part in parents:
        node = node.get(part, {})
    return node, last


def identity_view(d: dict[str, Any]) -> dict[str, Any]:
    """A config dict as its hash sees it: without the NOT_IDENTITY keys and the ADDED_FIELDS at their
    default, MEANING_VERSIONS tagged. The config hash and the report's setting key both use it, so
    what keeps two runs apart in one keeps them apart in the other."""
    d = json.loads(json.dumps(d))
    for key in NOT_IDENTITY:
        node, last = _parent(d, key)
        node.pop(last, None)
    for key, default in ADDED_FIELDS.items():
        node, last = _parent(d, key)
        if last in node and node[last] == default:
            node.pop(last)
    for (key, value), version in MEANING_VERSIONS.items():
        node, last = _parent(d, key)
        if node.get(last) == value:
            node[last] = f"{value}@v{version}"
    return d


def experiment_hash(d: dict[str, Any]) -> str:
    """12 hex digits of a config dict's `identity_view`."""
    d = identity_view(d)
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]


SEED_MAX = 2**64 - 1
"""Largest seed torch accepts (seeds are unsigned 64-bit integers)."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_numbers(cls, v: Any, info: ValidationInfo) -> Any:
        """A bool is not a number: `batch_size=true` is an error, not batch size 1."""
        if info.field_name is None:
            return v
        ann = cls.model_fields[info.field_name].annotation
        if isinstance(v, bool) and ann is not bool and bool not in get_args(ann) and _numeric(ann):
            raise ValueError(f"expected a number, not the bool {str(v).lower()}")
        if isinstance(v, list | tuple) and _numeric(ann) and any(isinstance(x, bool) for x in v):
            raise ValueError("expected numbers, not bools")
        return v


def _numeric(ann: Any) -> bool:
    """ANN is int or float, or a union / list holding one."""
    return ann in (int, float) or any(_numeric(a) for a in get_args(ann))


class SpaceConfig(_Section):
    name: str = "nb201"
    """Registered search space: nb201, nb101, darts_nds, nb201_mini (`wsnas space list`)."""


class BenchConfig(_Section):
    source: str | None = None
    """Official ground-truth file/folder (or CSV); imported into the cache on first use."""
    metric: str | None = None
    """Ground-truth metric; None = the space's default for data.name (NB201: cifar10/ori-test,
    cifar100/x-test, ImageNet16-120/x-test; NB101: test)."""
    allow_metric_mismatch: bool = False
    """Score against ground truth measured on another data set or split than data.name /
    data.eval_split (a config error otherwise); the run still records both."""
    schedule: str | None = None
    """Benchmark training schedule in epochs; None = the space's default (NB201: 200, NB101: 108)."""
    cache_dir: str | None = None
    """Where converted tables live; default $WSNAS_CACHE or ~/.cache/wsnas."""

    @field_validator("schedule", mode="before")
    @classmethod
    def _schedule_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v  # bench.schedule=200


class DataConfig(_Section):
    name: str = "cifar10"
    """Registered data set: cifar10, cifar100, imagenet16_120 (NAS-Bench-201's three), or digits
    (scikit-learn's 8x8 digits, the mini benchmark's)."""
    root: str = "data"
    """Folder holding cifar-10-batches-py/, cifar-100-python/ (the official python versions) or
    ImageNet16/ (the downsampled 16x16 files); unused by digits."""
    download: bool = False
    """Fetch the official archive (md5-checked) when the files are absent (CIFAR-10, CIFAR-100)."""
    train_portion: float = Field(1.0, gt=0.0, le=1.0)
    """Factor 'train portion': fraction of the training set the super-net sees."""
    valid_size: int = Field(0, ge=0)
    """Images held out of the training set as a validation split (seeded)."""
    eval_split: Literal["test", "valid", "train", "x-valid", "x-test"] = "test"
    """Split the super-net is evaluated on (paper: the CIFAR-10 test set); x-valid / x-test:
    NAS-Bench-201's fixed halves of the CIFAR-100 test / ImageNet16-120 validation set."""
    augment: bool = True
    """Random crop (pad 4; ImageNet16: pad 2) + horizontal flip (normalisation is always on)."""


class MappingConfig(_Section):
    """Factors of the mapping f_ws: how architectures share weights."""

    ops_on: Literal["edges", "nodes"] = "edges"
    bn_track_running_stats: bool = False
    bn_affine: bool = True
    wsbn: bool = False
    """Separate BN per incoming edge where weights are shared."""
    dropout_global: float = Field(0.0, ge=0.0, lt=1.0)
    dropout_path: float = Field(0.0, ge=0.0, lt=1.0)
    dropout_path_at: Literal["edges", "cell"] = "edges"
    """Where `dropout_path` drops (NB201 spaces): each edge's output between nodes (the paper's text)
    or each cell's output at p * (layer index + 1) / layers (the authors' code); docs/factors.md."""
    dynamic_channels: Literal["fixed", "shuffle", "shuffle_consistent", "interpolate"] = "fixed"
    """NB101 only: how a vertex with fewer channels takes its weights (docs/factors.md)."""
    super_kernel: bool = False
    """OFA super-kernel for kernel groups (NB101, DARTS, NB201 and nb201_mini)."""


class LowFidelityConfig(_Section):
    """Low-fidelity factors of the super-net's size."""

    channels: int = Field(16, ge=1)
    """Channels of the first stage (NB201 benchmark: 16)."""
    cells_per_stage: int = Field(5, ge=1)
    """Repeated cells per stage (NB201 benchmark: 5)."""


class ProtocolConfig(_Section):
    """P_ws: the super-net training hyper-parameters."""

    lr: float = Field(0.025, gt=0.0)
    lr_min: float = Field(0.0, ge=0.0)
    """Floor of the per-epoch cosine decay."""
    epochs: int = Field(400, ge=1)
    batch_size: int = Field(256, ge=1)
    weight_decay: float = Field(5e-4, ge=0.0)
    momentum: float = Field(0.9, ge=0.0, lt=1.0)
    grad_clip: float = Field(5.0, ge=0.0)
    """Max global gradient norm; 0 disables clipping."""


class SamplerConfig(_Section):
    name: str = "random_nas"
    """Registered sampler: random_nas, random_a, fairnas."""
    fairnas_k: int | None = Field(None, ge=1)
    """Paths per FairNAS step; default = number of ops of the space."""


class EvalConfig(_Section):
    epochs: list[int] = Field(default_factory=list)
    """Epochs (1-based) after which to evaluate; the last epoch always is."""
    pool_size: int = Field(200, ge=2)
    pool_seed: int = Field(0, ge=0, le=SEED_MAX)
    num_images: int | None = Field(None, ge=1)
    """Images of the eval split per architecture; None = all."""
    batch_size: int = Field(256, ge=1)
    sparse_threshold: float = Field(0.1, gt=0.0)
    """s-KdT bin width in GT percentage points."""
    top_k: int = Field(3, ge=1)
    """Final searched model = mean GT of the top-k by super-net accuracy; also P>R's n."""


class RuntimeConfig(_Section):
    device: str = "auto"
    """auto | cpu | cuda | cuda:N."""
    amp: bool = True
    """bf16 autocast when on CUDA (ignored on CPU)."""
    channels_last: bool = True
    """Channels-last memory format when on CUDA (ignored on CPU)."""
    threads: int | None = Field(None, ge=1)
    progress: bool = True


class LoggingConfig(_Section):
    tensorboard: bool = False
    """Also write training curves and evaluation metrics as TensorBoard events (run_dir/tb)."""


class RunConfig(_Section):
    space: SpaceConfig = Field(default_factory=SpaceConfig)
    bench: BenchConfig = Field(default_factory=BenchConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    mapping: MappingConfig = Field(default_factory=MappingConfig)
    lowfi: LowFidelityConfig = Field(default_factory=LowFidelityConfig)
    protocol: ProtocolConfig = Field(default_factory=ProtocolConfig)
    sampler: SamplerConfig = Field(default_factory=SamplerConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    runtime: RuntimeConfig = Field(default_factory=RuntimeConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    seed: int = Field(0, ge=0, le=SEED_MAX)
    out_dir: str = "runs"
    name: str | None = None
    """Run dir name under out_dir; default derived from the config hash."""

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def hash(self) -> str:
        """Stable hash of the config part of a run's identity (not where files live or go).

        Names run dirs and guards checkpoints; the full identity adds the GT checksum, the
        numerics and the world size (`wsnas.identity`, identity.json in the run dir).
        """
        return experiment_hash(self.to_dict())


class ProxyConfig(_Section):
    """P_proxy: stand-alone training of one architecture (REFERENCE.md section 3).

    None = the benchmark's own value for the space (`SearchSpace.proxy`: NB201
    lr 0.1 / 200 epochs, NB101 0.2 / 108, DARTS-NDS 0.1 / 100, nb201_mini 0.1 / 40).
    """

    lr: float | None = Field(None, gt=0.0)
    lr_min: float = Field(0.0, ge=0.0)
    epochs: int | None = Field(None, ge=1)
    batch_size: int | None = Field(None, ge=1)
    weight_decay: float | None = Field(None, ge=0.0)
    momentum: float = Field(0.9, ge=0.0, lt=1.0)
    nesterov: bool | None = None
    grad_clip: float = Field(0.0, ge=0.0)
    """Max global gradient norm; 0 (the benchmarks' practice) disables clipping."""
    channels: int | None = Field(None, ge=1)
    """Channels of the first stage (NB101: of the stem); None = the benchmark's."""
    cells: int | None = Field(None, ge=1)
    """Repeated cells: per stage (NB201), per stack (NB101), in total (DARTS); None = the benchmark's."""
    eval_epochs: list[int] = Field(default_factory=list)
    """Epochs (1-based) after which to score the eval split; the last epoch always is."""
    eval_batch_size: int = Field(256, ge=1)

    def resolved(self, defaults: dict[str, Any]) -> ProxyConfig:
        """Every None filled from the space's `proxy` defaults."""
        keys = ("lr", "epochs", "batch_size", "weight_decay", "nesterov", "channels", "cells")
        fill = {k: defaults.get(k) for k in keys}
        return self.model_copy(update={k: v for k, v in fill.items() if getattr(self, k) is None})


class StandaloneConfig(_Section):
    """One stand-alone training run (`wsnas standalone train`, `wsnas bench build`)."""

    space: SpaceConfig = Field(default_factory=SpaceConfig)
    arch: str = ""
    """Arch string in the space's notation (set by the command line)."""
    data: DataConfig = Field(default_factory=DataConfig)
    proxy: ProxyConfig = Field(default_factory=ProxyConfig)
    runtime: RuntimeConfig = Field(default_factory=RuntimeConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    seed: int = Field(0, ge=0, le=SEED_MAX)
    out_dir: str = "runs"
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def hash(self) -> str:
        """Stable hash of what determines the result (space, arch, data, P_proxy, seed)."""
        return experiment_hash(self.to_dict())


AnyConfig = RunConfig | StandaloneConfig


BASE_KEY = "_base_"


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping holding the same key twice (YAML would keep the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
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
    parent = _read_yaml((path.parent / base).resolve(), (*chain, path.resolve()))
    return _merge([parent, data], f"config file {path} over its {BASE_KEY} {base}")


def load_config(
    path: str | os.PathLike | None = None,
    overrides: list[str] | None = None,
    model: type[Any] = RunConfig,
) -> Any:
    """YAML file (optional, may name a `_base_` file) + `key.sub=value` overrides -> MODEL
    (RunConfig for super-net runs, StandaloneConfig for stand-alone ones)."""
    layers: list[Any] = []
    if path is not None:
        layers.append(_read_yaml(Path(path)))
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
    source = str(path) if path else "overrides"
    merged = _merge(layers, f"{source} + overrides") if layers else {}
    return validate(merged, source=source, model=model)


def validate(data: dict[str, Any], source: str = "config", model: type[Any] = RunConfig) -> Any:
    try:
        cfg = model.model_validate(data)
    except ValidationError as e:
        raise ConfigError(f"{source}: " + "; ".join(_explain(err, model) for err in e.errors())) from None
    except RecursionError:
        raise ConfigError(f"{source}: nested too deeply") from None
    if isinstance(cfg, RunConfig) and cfg.eval.top_k > cfg.eval.pool_size:
        raise ConfigError(
            f"{source}: key 'eval.top_k': got {cfg.eval.top_k}; larger than eval.pool_size "
            f"({cfg.eval.pool_size}), the pool it picks from"
        )
    return cfg


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
    return list(model.model_fields) if hasattr(model, "model_fields") else []


def _explain(err: dict[str, Any], root: Any = RunConfig) -> str:
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
            f"key '{key}': got {value!r}; allowed values: {', '.join(allowed)}"
            f"{did_you_mean(str(value), allowed)}"
        )
    if err["type"] == "value_error":
        msg = msg.removeprefix("Value error, ")
    return f"key '{key}': got {value!r}; {msg}"


def dump_config(cfg: AnyConfig, path: str | os.PathLike) -> None:
    """Write the resolved config atomically (temp file, then rename)."""
    write_text_atomic(Path(path), yaml.safe_dump(cfg.to_dict(), sort_keys=False))
