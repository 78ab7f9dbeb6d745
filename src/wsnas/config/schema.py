"""The run configuration's schema: one typed field per factor of the paper's Table 1.

The pydantic models check types, ranges and allowed values (types, ranges, allowed values). Names that refer
to registries (space, sampler, data set) and the factors a space honours are
checked one layer up, by `wsnas.spaces.check.check_config`. Defaults are the
paper's tuned NASBench-201 protocol (docs/background.md#protocol-defaults); the YAML files in
`wsnas/configs/` set the per-space values.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from wsnas.config.identity_policy import experiment_hash
from wsnas.core.metric_definitions import MetricDefinition, metric_definition

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
    metric_definition: Literal["paper", "authors"] = "paper"
    """Named metric definition (`wsnas.core.metrics.METRIC_DEFINITIONS`): `paper` = its text
    (sparse_threshold and top_k above); `authors` = the scripts behind the published tables
    (1-point bins, top-10 on NB201 / top-5 elsewhere; they fix both keys). docs/metrics.md."""


class LandmarkConfig(_Section):
    """Landmark regularisation (Yu et al., CVPR 2021; beyond the paper): a pairwise ranking loss on
    M architectures whose ground truth is an input. docs/factors.md names the authors' code followed."""

    num_archs: int = Field(0, ge=0)
    """M landmarks (0 = off); drawn with the run's seed from the ground truth unless `archs_file` lists them.
    Landmarks never enter the evaluation pool."""
    archs_file: str | None = None
    """Text file of M arch strings (one a line, `#` comments) to use as landmarks instead of a draw."""
    loss: Literal["relu", "softplus"] = "relu"
    """Per pair, with L the cross-entropy on the step's batch: relu(L_better - L_worse) (authors' mae_relu)
    or softplus(L_better - L_worse) (their mae_softplus / crossentropy)."""
    coef: float = Field(10.0, gt=0.0)
    """Coefficient of the ranking term (authors' best setting: 10)."""
    schedule: Literal["cosine_increase", "constant"] = "cosine_increase"
    """How the coefficient grows after the warm-up (authors' best: cosine_increase)."""
    warmup_fraction: float = Field(0.375, ge=0.0, lt=1.0)
    """Fraction of protocol.epochs trained without the term (authors' NB201: 150 of 400 epochs)."""
    pairs: int = Field(1, ge=1)
    """Landmark pairs per step (2 extra forward/backward passes each)."""


class FewShotConfig(_Section):
    """Few-shot super-nets (Zhao et al., ICML 2021; beyond the paper): split after a one-shot warm-up."""

    split: str = "off"
    """`off`, `default` (the space's edge) or edge indices `0` / `0,3`: the edges whose op choice splits
    the super-net into K = ops^edges sub-super-nets."""
    warmup_fraction: float = Field(0.8, gt=0.0, lt=1.0)
    """Fraction of protocol.epochs trained one-shot before the split (released code: 600 one-shot epochs,
    then 150 per sub-super-net)."""

    @field_validator("split", mode="before")
    @classmethod
    def _split_text(cls, v: Any) -> Any:
        if isinstance(v, int) and not isinstance(v, bool):
            return str(v)  # fewshot.split=0
        if isinstance(v, list | tuple):
            return ",".join(str(x) for x in v)
        return v


class AlgorithmConfig(_Section):
    """The search algorithm that learns an architecture distribution beside the weights
    (`wsnas list algorithms`, docs/search.md). `none`: the sampler alone (Random-NAS, Random-A,
    FairNAS). None values take the algorithm's reference default (named in the run's summary)."""

    name: str = "none"
    """Registered algorithm: none, darts_v1, darts_v2, gdas, setn, drnas, enas, nao (plugins too)."""
    arch_lr: float | None = Field(None, gt=0.0)
    """Adam learning rate of the architecture parameters (xautodl and DrNAS: 3e-4)."""
    arch_betas: tuple[float, float] | None = None
    """Adam betas of the architecture parameters (xautodl: 0.5, 0.999)."""
    arch_weight_decay: float | None = Field(None, ge=0.0)
    """Adam weight decay of the architecture parameters (xautodl: 1e-3; DrNAS's `l2` regulariser,
    its NB201 default, is this weight decay at reg_scale 1e-3)."""
    arch_split: Literal["valid", "train"] = "valid"
    """The split the architecture is updated on: `valid` (data.valid_size images held out of the
    training set, as every reference does) or `train` (other batches of the training split)."""
    tau_max: float | None = Field(None, gt=0.0)
    """GDAS: Gumbel-softmax temperature at the first epoch (xautodl: 10)."""
    tau_min: float | None = Field(None, gt=0.0)
    """GDAS: temperature at the last epoch, linear in between (xautodl: 0.1)."""
    select_num: int | None = Field(None, ge=1)
    """SETN: candidates sampled from the learnt distribution for the final choice (xautodl: 100)."""
    entropy_weight: float | None = Field(None, ge=0.0)
    """ENAS: weight of the controller's entropy in its reward (xautodl: 1e-4)."""
    baseline_decay: float | None = Field(None, ge=0.0, le=1.0)
    """ENAS: decay of the reward's moving-average baseline (xautodl: 0.99)."""
    controller_steps: int | None = Field(None, ge=1)
    """ENAS: controller Adam steps after each epoch of the shared weights (xautodl: 50)."""
    controller_aggregate: int | None = Field(None, ge=1)
    """ENAS: sampled architectures whose gradients one controller step averages (xautodl: 20)."""
    tanh_constant: float | None = Field(None, gt=0.0)
    """ENAS: the controller's logits are tanh_constant * tanh(logits / logit_temperature) (xautodl: 2.5)."""
    logit_temperature: float | None = Field(None, gt=0.0)
    """ENAS: temperature of the controller's logits, before the tanh (xautodl: 5)."""
    rounds: int | None = Field(None, ge=1)
    """NAO: evaluations of the candidate pool, spread evenly over the epochs; all but the last train the
    encoder-predictor-decoder and replace the pool's worst (NAO_V1: 4, every 50 of 200 epochs)."""
    seed_archs: int | None = Field(None, ge=2)
    """NAO: size of the candidate pool, drawn at random to start (NAO_V1: 600)."""
    new_archs: int | None = Field(None, ge=1)
    """NAO: candidates decoded per round, replacing as many of the pool's worst (NAO_V1: 300)."""
    controller_epochs: int | None = Field(None, ge=1)
    """NAO: epochs of encoder-predictor-decoder training per round (NAO_V1: 1000)."""
    trade_off: float | None = Field(None, ge=0.0, le=1.0)
    """NAO: weight of the predictor's squared error against the decoder's NLL (NAO_V1: 0.8)."""
    expand: int | None = Field(None, ge=1)
    """NAO: copies of each training pair, each an encoding of the same cell drawn at random (NAO_V1: 10)."""


class RuntimeConfig(_Section):
    device: str = "auto"
    """auto | cpu | cuda | cuda:N."""
    amp: bool = True
    """bf16 autocast when on CUDA (ignored on CPU)."""
    channels_last: bool = True
    """Channels-last memory format when on CUDA (ignored on CPU)."""
    threads: int | None = Field(None, ge=1)
    """CPU threads; unset: the cores this process may use (affinity, cgroup quota; `wsnas.core.threads`)."""
    progress: bool = True


class LoggingConfig(_Section):
    tensorboard: bool = False
    """Also write training curves and evaluation metrics as TensorBoard events (run_dir/tb)."""
    wandb: bool = False
    """Also log them to Weights & Biases, with the config and identity (`pip install 'wsnas[wandb]'`)."""
    mlflow: bool = False
    """Also log them to MLflow, with the config and identity (`pip install 'wsnas[mlflow]'`)."""
    project: str = Field("wsnas", min_length=1)
    """The W&B project and the MLflow experiment that the runs go to."""
    mlflow_tracking_uri: str | None = None
    """MLflow's server or store (e.g. `http://host:5000`); None: MLflow's own (MLFLOW_TRACKING_URI)."""


class ExperimentConfig(_Section):
    """What every run has: its space, data, how and where it runs, its seed and run dir name.

    `RunConfig` (a super-net) and `StandaloneConfig` (one architecture) add their sections.
    Pydantic puts a base's fields first; `LAYOUT` keeps each config's own order in `to_dict`
    (config.yaml, `wsnas config show`) and in error messages. The hash sorts keys.
    """

    LAYOUT: ClassVar[tuple[str, ...]] = ()
    """The order of the top-level keys; fields it leaves out follow, in declaration order."""

    space: SpaceConfig = Field(default_factory=SpaceConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    runtime: RuntimeConfig = Field(default_factory=RuntimeConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    seed: int = Field(0, ge=0, le=SEED_MAX)
    out_dir: str = "runs"
    name: str | None = None
    """Run dir name under out_dir; default derived from the config hash."""

    @classmethod
    def field_order(cls) -> list[str]:
        """The top-level field names in `LAYOUT` order."""
        return [k for k in cls.LAYOUT if k in cls.model_fields] + [
            k for k in cls.model_fields if k not in cls.LAYOUT
        ]

    def to_dict(self) -> dict[str, Any]:
        """The config as plain JSON types, as `config.yaml` holds it (`LAYOUT` order) and its hash sees it."""
        d = self.model_dump(mode="json")
        return {k: d[k] for k in self.field_order()}

    def hash(self) -> str:
        """Stable hash of the config part of a run's identity (not where files live or go).

        Names run dirs and guards checkpoints; the full identity adds the GT checksum, the
        numerics and the world size (`wsnas.engine.identity`, identity.json in the run dir).
        """
        return experiment_hash(self.to_dict())


class RunConfig(ExperimentConfig):
    """One super-net run: the factors of the paper's Table 1 (`wsnas train`, a sweep's runs)."""

    LAYOUT = (
        "space",
        "bench",
        "data",
        "mapping",
        "lowfi",
        "protocol",
        "sampler",
        "algorithm",
        "eval",
        "landmark",
        "fewshot",
        "runtime",
        "logging",
        "seed",
        "out_dir",
        "name",
    )

    bench: BenchConfig = Field(default_factory=BenchConfig)
    mapping: MappingConfig = Field(default_factory=MappingConfig)
    lowfi: LowFidelityConfig = Field(default_factory=LowFidelityConfig)
    protocol: ProtocolConfig = Field(default_factory=ProtocolConfig)
    sampler: SamplerConfig = Field(default_factory=SamplerConfig)
    algorithm: AlgorithmConfig = Field(default_factory=AlgorithmConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    landmark: LandmarkConfig = Field(default_factory=LandmarkConfig)
    fewshot: FewShotConfig = Field(default_factory=FewShotConfig)

    def metrics(self) -> MetricDefinition:
        """The run's metric definition resolved for its space: s-KdT's bin width and the top-k."""
        e = self.eval
        return metric_definition(e.metric_definition, self.space.name, e.sparse_threshold, e.top_k)


class ProxyConfig(_Section):
    """P_proxy: stand-alone training of one architecture (docs/background.md#stand-alone-protocol-p_proxy).

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


class StandaloneConfig(ExperimentConfig):
    """One stand-alone training run (`wsnas standalone train`, `wsnas bench build`); its hash
    covers what determines the result (space, arch, data, P_proxy, seed)."""

    LAYOUT = ("space", "arch", "data", "proxy", "runtime", "logging", "seed", "out_dir", "name")

    arch: str = ""
    """Arch string in the space's notation (set by the command line)."""
    proxy: ProxyConfig = Field(default_factory=ProxyConfig)


AnyConfig = RunConfig | StandaloneConfig
