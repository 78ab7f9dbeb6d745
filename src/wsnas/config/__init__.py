"""The typed run config (layer 1): schema, loading, and the identity policy of its hash.

Knows no registry: the names of spaces, samplers and data sets, and the factors a space
honours, are checked one layer up (`wsnas.spaces.check.check_config`).
"""

from wsnas.config.identity_policy import (
    ADDED_FIELDS,
    MEANING_VERSIONS,
    NOT_IDENTITY,
    experiment_hash,
    identity_view,
)
from wsnas.config.load import BASE_KEY, _read_yaml, dump_config, load_config, read_yaml_mapping, validate
from wsnas.config.schema import (
    SEED_MAX,
    AlgorithmConfig,
    AnyConfig,
    BenchConfig,
    DataConfig,
    EvalConfig,
    ExperimentConfig,
    FewShotConfig,
    LandmarkConfig,
    LoggingConfig,
    LowFidelityConfig,
    MappingConfig,
    ProtocolConfig,
    ProxyConfig,
    RunConfig,
    RuntimeConfig,
    SamplerConfig,
    SpaceConfig,
    StandaloneConfig,
)

__all__ = [
    "ADDED_FIELDS",
    "BASE_KEY",
    "MEANING_VERSIONS",
    "NOT_IDENTITY",
    "SEED_MAX",
    "AlgorithmConfig",
    "AnyConfig",
    "BenchConfig",
    "DataConfig",
    "EvalConfig",
    "ExperimentConfig",
    "FewShotConfig",
    "LandmarkConfig",
    "LoggingConfig",
    "LowFidelityConfig",
    "MappingConfig",
    "ProtocolConfig",
    "ProxyConfig",
    "RunConfig",
    "RuntimeConfig",
    "SamplerConfig",
    "SpaceConfig",
    "StandaloneConfig",
    "_read_yaml",
    "dump_config",
    "experiment_hash",
    "identity_view",
    "load_config",
    "read_yaml_mapping",
    "validate",
]
