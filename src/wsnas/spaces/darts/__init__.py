"""DARTS-NDS: DARTS genotypes (normal + reduction cell), NDS ground truth, networks."""

from wsnas.spaces.darts.genotype import (
    NUM_NODES,
    OPS,
    Genotype,
    canonical_id,
    format_genotype,
    parse_genotype,
)

__all__ = ["NUM_NODES", "OPS", "Genotype", "canonical_id", "format_genotype", "parse_genotype"]
