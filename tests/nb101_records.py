"""NB101 test material: the official example cell, and an independent writer of
NAS-Bench-101 tfrecord files in the official structure.

TFRecord framing packed with `struct` and its own CRC masking; ModelMetrics bytes
encoded by hand in the protobuf wire format (tests cross-check them against the
reader's runtime-built message class).
"""

from __future__ import annotations

import struct

import google_crc32c

C3, C1, MP = "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"
INCEPTION_MATRIX = [
    [0, 1, 1, 1, 0, 1, 0],
    [0, 0, 0, 0, 0, 0, 1],
    [0, 0, 0, 0, 0, 0, 1],
    [0, 0, 0, 0, 1, 0, 0],
    [0, 0, 0, 0, 0, 0, 1],
    [0, 0, 0, 0, 0, 0, 1],
    [0, 0, 0, 0, 0, 0, 0],
]
INCEPTION_OPS = ["input", C1, C3, C3, C3, MP, "output"]
"""The Inception-like cell of the official README / API docstring (also in ../shared/data/README.md)."""
INCEPTION_PARAMS = 2694282
"""Its trainable parameters in the benchmark's network."""


def masked(data: bytes) -> int:
    crc = google_crc32c.value(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) % (1 << 32)


def frame(data: bytes) -> bytes:
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", masked(length)) + data + struct.pack("<I", masked(data))


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def eval_bytes(epoch: float, time: float, train: float, valid: float, test: float, ckpt: str = "") -> bytes:
    """EvaluationData: fields 1-5 doubles (wire type 1), 6 a string (wire type 2)."""
    out = b"".join(
        bytes([(f << 3) | 1]) + struct.pack("<d", v)
        for f, v in enumerate((epoch, time, train, valid, test), 1)
    )
    return out + (bytes([(6 << 3) | 2]) + varint(len(ckpt)) + ckpt.encode() if ckpt else b"")


def metrics_bytes(evals: list[bytes], params: int | None, total_time: float) -> bytes:
    """ModelMetrics: repeated EvaluationData = 1, int32 trainable_parameters = 2, double total_time = 3."""
    out = b"".join(bytes([(1 << 3) | 2]) + varint(len(e)) + e for e in evals)
    if params is not None:
        out += bytes([2 << 3]) + varint(params)
    return out + bytes([(3 << 3) | 1]) + struct.pack("<d", total_time)
