#!/usr/bin/env bash
# Wheels a bare GPU machine lacks for wsnas (its image has torch, numpy, scipy, pyyaml, tqdm,
# matplotlib, scikit-learn, protobuf, pytest; not these), for Python 3.12 on x86-64 Linux.
# Run here, in the repository root, where pip can reach PyPI; the device command installs
# them from .whl/ without a network (benchmarks/README.md, "The device check").
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .whl
python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl \
    pydantic==2.14.4 pydantic_core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5 \
    typing_extensions==4.16.0 omegaconf==2.4.0 google-crc32c==1.9.0
ls -la .whl
