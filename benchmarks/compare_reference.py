"""wsnas vs the NAS-Bench-201 authors' random-path super-net (xautodl), side by side; prints one JSON.

The reference is `TinyNetworkRANDOM` from the `xautodl` package (MIT), built the
way the authors' RANDOM-NAS search script builds it (`get_cell_based_tiny_net`,
name RANDOM, NB201 op list, 4 nodes) and driven the way it drives it: the path
is set through `arch_cache` (a `Structure` genotype) before each step, the model
returns (features, logits), `zero_grad`, cross-entropy, backward, clip 5, SGD.
Install it into the benchmark environment only: `pip install --no-deps xautodl`.

Fairness: same C, N, batch size, steps, device, thread count, initial weights
(wsnas's are copied into the reference, and the logits are checked equal), the
same arch sequence (sampled once, seeded) and the same batches; repeats are
interleaved (A/B/C, order reversed every other repeat). wsnas is timed end to
end (its batched augmentation included); the reference gets its already
augmented batches for free. `wsnas_plain` is wsnas with `fast_path=False`.
BN: wsnas's flags apply to every BN; the reference hard-codes tracked BNs in its
stem, residual blocks and head, which are switched to the same flags (the cells
take them from the model config), so both nets run the same ops.

Data pipeline: per-image transforms in a DataLoader (RandomCrop(32, padding=4),
RandomHorizontalFlip, ToTensor, Normalize; torchvision's if importable, else the
same transforms written with PIL per image) vs wsnas's DeviceLoader.

    python benchmarks/compare_reference.py --threads 2 --batch-size 64 --steps 10 --repeats 7
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from _common import add_protocol_args, device_name, projected_hours, sync
from torch import nn

from wsnas.config import LowFidelityConfig, MappingConfig, RuntimeConfig
from wsnas.data import CIFAR10_MEAN, CIFAR10_STD, DeviceLoader
from wsnas.engine.runtime import autocast, memory_format, setup_runtime
from wsnas.spaces.nb201.arch import EDGES, OPS, format_arch
from wsnas.spaces.nb201.ops import CONV_OPS, ResidualBlock
from wsnas.spaces.nb201.supernet import NB201SuperCell, NB201SuperNet
from wsnas.trainers.evaluate import supernet_accuracies

XAUTODL_MISSING = (
    "compare_reference.py needs the NAS-Bench-201 authors' package `xautodl` in this environment "
    "(benchmark only, never a wsnas dependency):\n    pip install --no-deps xautodl"
)


def require_xautodl() -> None:
    try:
        import xautodl.models  # noqa: F401
    except ImportError as exc:
        print(f"{XAUTODL_MISSING}\n({exc})", file=sys.stderr)
        raise SystemExit(2) from None


# ---- the reference model ------------------------------------------------------------------------


def build_reference(C: int, N: int, track_running_stats: bool = False, name: str = "RANDOM") -> nn.Module:
    """The authors' search super-net NAME (RANDOM: the random-path one of their RANDOM-NAS script;
    DARTS-V1, GDAS, SETN: those algorithms' search models), with affine BN."""
    from xautodl.models import get_cell_based_tiny_net, get_search_spaces

    space = get_search_spaces("cell", "nas-bench-201")
    assert tuple(space) == OPS, f"op lists differ: {space} vs {OPS}"
    cfg = {
        "name": name,
        "C": C,
        "N": N,
        "max_nodes": 4,
        "num_classes": 10,
        "space": space,
        "affine": True,
        "track_running_stats": track_running_stats,
    }
    net = get_cell_based_tiny_net(cfg)
    if not track_running_stats:  # stem, residual blocks and head BNs are hard-coded to track
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.track_running_stats = False
                m.running_mean = m.running_var = m.num_batches_tracked = None
    return net


def set_reference_arch(ref: nn.Module, arch: tuple[int, ...]) -> None:
    """Select the path as the authors' `random_genotype(set_cache=True)` does: via `arch_cache`."""
    from xautodl.models.cell_searchs.genotypes import Structure

    ref.arch_cache = Structure.str2structure(format_arch(arch))


def _copy_bn(src: nn.BatchNorm2d, dst: nn.BatchNorm2d) -> None:
    for name in ("weight", "bias", "running_mean", "running_var"):
        s, d = getattr(src, name), getattr(dst, name)
        if s is not None and d is not None:
            d.copy_(s)


def _copy_relu_conv_bn(src: nn.Module, dst: nn.Module) -> None:
    """wsnas ReLUConvBN (conv, bn) -> xautodl ReLUConvBN (op = ReLU, Conv2d, BN)."""
    dst.op[1].weight.copy_(src.conv.weight)
    _copy_bn(src.bn, dst.op[2])


@torch.no_grad()
def copy_weights(ours: NB201SuperNet, ref: nn.Module) -> None:
    """Give the reference wsnas's weights (ops on edges, no WSBN), module by module."""
    ref.stem[0].weight.copy_(ours.stem[0].weight)
    _copy_bn(ours.stem[1], ref.stem[1])
    for mine, theirs in zip(ours.cells, ref.cells, strict=True):
        if isinstance(mine, ResidualBlock):
            _copy_relu_conv_bn(mine.conv_a, theirs.conv_a)
            _copy_relu_conv_bn(mine.conv_b, theirs.conv_b)
            theirs.downsample[1].weight.copy_(mine.downsample[1].weight)
            continue
        assert isinstance(mine, NB201SuperCell)
        for e, (src, dst) in enumerate(EDGES):
            for op in CONV_OPS:
                conv, edge_bn = mine.edge_op(e, op)
                assert edge_bn is None, "the comparison uses ops on edges without WSBN"
                _copy_relu_conv_bn(conv, theirs.edges[f"{dst}<-{src}"][theirs.op_names.index(OPS[op])])
    _copy_bn(ours.lastact[0], ref.lastact[0])
    ref.classifier.load_state_dict(ours.classifier.state_dict())


# ---- timing helpers -----------------------------------------------------------------------------


def summary(rates: list[float]) -> dict[str, Any]:
    return {"median": round(statistics.median(rates), 1), "per_repeat": [round(r, 1) for r in rates]}


def ratio_summary(a: list[float], b: list[float]) -> dict[str, Any]:
    r = [x / y for x, y in zip(a, b, strict=True)]
    return {
        "median": round(statistics.median(r), 3),
        "min": round(min(r), 3),
        "max": round(max(r), 3),
        "per_repeat": [round(x, 3) for x in r],
    }


def interleaved(fns: dict[str, Callable[[int], float]], repeats: int) -> dict[str, list[float]]:
    """Run each fn once per repeat, alternating the order (ABC, CBA, ...) to cancel drift."""
    names = list(fns)
    out: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeats):
        for n in names if r % 2 == 0 else names[::-1]:
            out[n].append(fns[n](r))
    return out


# ---- data pipelines -----------------------------------------------------------------------------


class PerImageCifar(torch.utils.data.Dataset):
    """CIFAR-style per-image augmentation, one PIL image at a time, as torchvision users run it."""

    def __init__(self, images_hwc: np.ndarray, labels: np.ndarray) -> None:
        self.images, self.labels = images_hwc, labels
        self.mean = torch.tensor(CIFAR10_MEAN).view(3, 1, 1)
        self.std = torch.tensor(CIFAR10_STD).view(3, 1, 1)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        from PIL import Image, ImageOps

        img = Image.fromarray(self.images[i])
        img = ImageOps.expand(img, border=4, fill=0)  # RandomCrop(32, padding=4): pad, then crop
        top, left = (int(v) for v in torch.randint(0, 9, (2,)))
        img = img.crop((left, top, left + 32, top + 32))
        if torch.rand(1).item() < 0.5:  # RandomHorizontalFlip
            img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        t = torch.from_numpy(np.array(img, dtype=np.uint8)).permute(2, 0, 1).float().div(255)  # ToTensor
        return t.sub_(self.mean).div_(self.std), int(self.labels[i])  # Normalize


def per_image_dataset(images_hwc: np.ndarray, labels: np.ndarray) -> tuple[torch.utils.data.Dataset, str]:
    """torchvision's transforms when importable beside this torch, else the PIL equivalent."""
    try:
        import torchvision.transforms as T
        from PIL import Image
    except Exception:  # noqa: BLE001 - any import failure means: not usable here
        return PerImageCifar(images_hwc, labels), "PIL per image (torchvision not importable)"
    tf = T.Compose(
        [
            T.RandomCrop(32, padding=4),
            T.RandomHorizontalFlip(),
            T.ToTensor(),
            T.Normalize(CIFAR10_MEAN, CIFAR10_STD),
        ]
    )

    class TV(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return len(images_hwc)

        def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
            return tf(Image.fromarray(images_hwc[i])), int(labels[i])

    return TV(), "torchvision.transforms"


def batches_per_second(it: Iterator[Any], n: int, device: torch.device) -> float:
    """Batches/s over n batches after the first (worker start-up excluded)."""
    next(it)
    sync(device)
    t0 = time.perf_counter()
    for _ in range(n):
        xb, _ = next(it)
        if xb.device != device:
            xb = xb.to(device)
    sync(device)
    return n / (time.perf_counter() - t0)


# ---- main ---------------------------------------------------------------------------------------


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--channels", type=int, default=16)
    p.add_argument("--cells", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--steps", type=int, default=10, help="timed training steps per repeat and model")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps per model before the repeats")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads, and DataLoader workers")
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="time the models by wall clock, or by this process's CPU time (steadier on a busy "
        "machine with --threads 1; with more threads it also counts the threads' spin-waits)",
    )
    p.add_argument("--no-amp", action="store_true", help="wsnas without bf16 autocast on CUDA")
    p.add_argument("--no-plain", action="store_true", help="skip wsnas with fast_path=False")
    p.add_argument("--track-running-stats", action="store_true", help="BN running stats in both nets")
    p.add_argument("--nesterov", action="store_true", help="Nesterov SGD in both (the authors' config)")
    p.add_argument("--eval-archs", type=int, default=8)
    p.add_argument("--eval-images", type=int, default=1024)
    p.add_argument("--eval-batch-size", type=int, default=256)
    p.add_argument("--data-images", type=int, default=4096, help="images for the data pipeline test")
    p.add_argument("--data-batches", type=int, default=30, help="timed batches per pipeline and repeat")
    p.add_argument("--skip-data", action="store_true")
    add_protocol_args(p)
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args()


def main() -> None:
    a = parse()
    require_xautodl()
    clock = time.perf_counter if a.clock == "wall" else time.process_time
    rt = RuntimeConfig(device=a.device, threads=a.threads, amp=not a.no_amp, progress=False)
    device = setup_runtime(rt)
    mf = memory_format(device, rt.channels_last)
    amp = rt.amp and device.type == "cuda"
    lowfi = LowFidelityConfig(channels=a.channels, cells_per_stage=a.cells)
    torch.manual_seed(a.seed)
    ours = NB201SuperNet(MappingConfig(bn_track_running_stats=a.track_running_stats), lowfi)
    ref = build_reference(a.channels, a.cells, a.track_running_stats)
    copy_weights(ours, ref)
    plain = NB201SuperNet(MappingConfig(bn_track_running_stats=a.track_running_stats), lowfi, fast_path=False)
    plain.load_state_dict(ours.state_dict())
    ours.to(device, memory_format=mf)
    plain.to(device, memory_format=mf)
    ref.to(device)

    # Same arch sequence for every model: sampled once, uniformly over encodings (RandomNAS).
    rng = np.random.default_rng(a.seed)
    n_steps = a.warmup + a.steps * a.repeats
    archs = [tuple(int(o) for o in rng.integers(0, len(OPS), len(EDGES))) for _ in range(n_steps)]

    # Same batches: wsnas's loader makes them; the reference gets the float results precomputed.
    gen = np.random.default_rng(a.seed)
    n_img = a.batch_size * n_steps
    x_u8 = gen.integers(0, 256, size=(n_img, 3, 32, 32), dtype=np.uint8)
    y_np = gen.integers(0, 10, size=n_img).astype(np.int64)
    loader_kw = {
        "batch_size": a.batch_size,
        "device": device,
        "shuffle": True,
        "drop_last": True,
        "augment": True,
        "seed": a.seed,
    }
    loader = DeviceLoader(x_u8, y_np, channels_last=mf == torch.channels_last, **loader_kw)
    loader.set_epoch(0)
    ref_batches = [(xb.contiguous(), yb) for xb, yb in DeviceLoader(x_u8, y_np, **loader_kw)]

    # The same computation: with the same weights, both give the same logits on the same path.
    check = []
    for arch in archs[: min(4, len(archs))]:
        xb, _ = ref_batches[0]
        ours.train()
        ref.train()
        set_reference_arch(ref, arch)
        with torch.no_grad():
            check.append(float((ours(xb, arch).float() - ref(xb)[1].float()).abs().max()))

    def sgd(model: nn.Module) -> torch.optim.SGD:
        return torch.optim.SGD(
            model.parameters(), lr=0.025, momentum=0.9, weight_decay=5e-4, nesterov=a.nesterov
        )

    def wsnas_runner(model: NB201SuperNet) -> Callable[[int], float]:
        opt = sgd(model)
        batches = iter(loader)

        def step(arch: tuple[int, ...], loss_sum: torch.Tensor, correct: torch.Tensor) -> None:
            xb, yb = next(batches)  # the batched augmentation is inside the timed loop
            opt.zero_grad(set_to_none=True)
            with autocast(device, amp):
                out = model(xb, arch)
                loss = F.cross_entropy(out, yb)
            loss.backward()
            loss_sum += loss.detach().float()  # the trainer's on-device bookkeeping, no host sync
            correct += (out.detach().argmax(1) == yb).sum()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()

        return make_repeat(model, step)

    def reference_runner() -> Callable[[int], float]:
        opt = sgd(ref)
        batches = iter(ref_batches)

        def step(arch: tuple[int, ...], loss_sum: torch.Tensor, correct: torch.Tensor) -> None:
            xb, yb = next(batches)
            set_reference_arch(ref, arch)
            opt.zero_grad(set_to_none=True)
            _, logits = ref(xb)
            loss = F.cross_entropy(logits, yb)
            loss.backward()
            loss_sum += loss.detach().float()
            correct += (logits.detach().argmax(1) == yb).sum()
            torch.nn.utils.clip_grad_norm_(ref.parameters(), 5.0)
            opt.step()

        return make_repeat(ref, step)

    step_times: dict[int, list[float]] = {}

    def make_repeat(model: nn.Module, step: Callable[..., None]) -> Callable[[int], float]:
        times = step_times.setdefault(id(model), [])
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), dtype=torch.long, device=device)
        model.train()
        for arch in archs[: a.warmup]:
            step(arch, loss_sum, correct)

        def repeat(r: int) -> float:
            model.train()
            lo = a.warmup + r * a.steps
            sync(device)
            t0 = t = clock()
            for arch in archs[lo : lo + a.steps]:
                step(arch, loss_sum, correct)
                if device.type == "cpu":  # per-step times only where reading the clock costs no sync
                    now = clock()
                    times.append(now - t)
                    t = now
            sync(device)
            return a.steps * a.batch_size / (clock() - t0)

        return repeat

    runners = {"wsnas": wsnas_runner(ours), "reference": reference_runner()}
    models = {"wsnas": ours, "reference": ref}
    if not a.no_plain:
        runners["wsnas_plain"] = wsnas_runner(plain)
        models["wsnas_plain"] = plain
    train = interleaved(runners, a.repeats)

    # Evaluation of a small pool: wsnas's supernet_accuracies vs the authors' valid_func loop.
    ex = gen.integers(0, 256, size=(a.eval_images, 3, 32, 32), dtype=np.uint8)
    ey = gen.integers(0, 10, size=a.eval_images).astype(np.int64)
    ev = DeviceLoader(ex, ey, a.eval_batch_size, device=device, channels_last=mf == torch.channels_last)
    eval_batches = list(ev)
    pool_rng = np.random.default_rng(a.seed + 2)  # the same pool whatever --steps/--repeats
    pool = [tuple(int(o) for o in pool_rng.integers(0, len(OPS), len(EDGES))) for _ in range(a.eval_archs)]

    def eval_ours(_r: int) -> float:
        sync(device)
        t0 = clock()
        supernet_accuracies(ours, pool, eval_batches, amp)
        sync(device)
        return len(pool) * a.eval_images / (clock() - t0)

    def eval_ref(_r: int) -> float:
        ref.eval()
        sync(device)
        t0 = clock()
        with torch.no_grad():
            for arch in pool:
                set_reference_arch(ref, arch)
                for xb, yb in eval_batches:
                    _, logits = ref(xb)
                    (logits.argmax(1) == yb).sum()
        sync(device)
        return len(pool) * a.eval_images / (clock() - t0)

    eval_ours(0)
    evals = interleaved({"wsnas": eval_ours, "reference": eval_ref}, max(3, a.repeats // 2))

    result: dict[str, Any] = {
        "benchmark": "nb201_compare_reference",
        "device": device_name(device),
        "threads": torch.get_num_threads(),
        "clock": a.clock,
        "channels": a.channels,
        "cells": a.cells,
        "batch_size": a.batch_size,
        "steps_per_repeat": a.steps,
        "repeats": a.repeats,
        "wsnas_amp_bf16": amp,
        "bn_track_running_stats": a.track_running_stats,
        "sgd": {"lr": 0.025, "momentum": 0.9, "weight_decay": 5e-4, "nesterov": a.nesterov, "clip": 5.0},
        "reference": "xautodl TinyNetworkRANDOM via get_cell_based_tiny_net (affine BN), arch_cache path",
        "same_logits_max_abs_diff": max(check),
        "same_computation": max(check) < 1e-3,
        "train_images_per_s": {k: summary(v) for k, v in train.items()},
        "train_ratio_wsnas_over_reference": ratio_summary(train["wsnas"], train["reference"]),
    }
    if device.type == "cpu":
        # Robust to bursts of load from other processes: the same archs' median step time.
        med = {k: a.batch_size / statistics.median(step_times[id(m)]) for k, m in models.items()}
        result["train_images_per_s_from_median_step"] = {k: round(v, 1) for k, v in med.items()}
        result["train_ratio_from_median_step"] = round(med["wsnas"] / med["reference"], 3)
    if "wsnas_plain" in train:
        result["train_ratio_plain_over_reference"] = ratio_summary(train["wsnas_plain"], train["reference"])
        result["train_ratio_wsnas_over_plain"] = ratio_summary(train["wsnas"], train["wsnas_plain"])
    result["eval"] = {
        "archs": len(pool),
        "images": a.eval_images,
        "batch_size": a.eval_batch_size,
        "images_per_s": {k: summary(v) for k, v in evals.items()},
        "ratio_wsnas_over_reference": ratio_summary(evals["wsnas"], evals["reference"]),
    }
    result["projected_protocol_hours"] = {
        k: projected_hours(statistics.median(train[k]), statistics.median(evals[k]), a, digits=2)
        for k in ("wsnas", "reference")
    }
    result["projection"] = (
        f"{a.protocol_train_images} images x {a.protocol_epochs} epochs / train rate + {a.protocol_evals} "
        f"evaluation(s) x {a.protocol_archs} archs x {a.protocol_eval_images} images / eval rate, "
        f"at the measured batch size {a.batch_size} (the paper trains at 256)"
    )
    if not a.skip_data:
        result["data_pipeline"] = data_pipeline(a, device)
    print(json.dumps(result))


def data_pipeline(a: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    """Images/s of the per-image DataLoader pipeline vs wsnas's DeviceLoader, interleaved."""
    gen = np.random.default_rng(a.seed + 1)
    n = a.data_images
    hwc = gen.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)
    labels = gen.integers(0, 10, size=n).astype(np.int64)
    nchw = np.ascontiguousarray(hwc.transpose(0, 3, 1, 2))
    dataset, impl = per_image_dataset(hwc, labels)
    dl = torch.utils.data.DataLoader(
        dataset,
        batch_size=a.batch_size,
        shuffle=True,
        drop_last=True,
        num_workers=a.threads,
        persistent_workers=a.threads > 0,
        pin_memory=device.type == "cuda",
    )
    dev = DeviceLoader(nchw, labels, a.batch_size, device=device, shuffle=True, drop_last=True, augment=True)
    nb = min(a.data_batches, len(dev) - 1, len(dl) - 1)

    def run_per_image(_r: int) -> float:
        return batches_per_second(iter(dl), nb, device) * a.batch_size

    def run_device(r: int) -> float:
        dev.set_epoch(r)
        return batches_per_second(iter(dev), nb, device) * a.batch_size

    rates = interleaved({"wsnas_device_loader": run_device, "per_image_dataloader": run_per_image}, 3)
    return {
        "per_image_impl": impl,
        "clock": "wall",  # the per-image pipeline's work happens in worker processes
        "dataloader_workers": a.threads,
        "torch_threads": torch.get_num_threads(),
        "batches_timed": nb,
        "images_per_s": {k: summary(v) for k, v in rates.items()},
        "ratio_device_over_per_image": ratio_summary(
            rates["wsnas_device_loader"], rates["per_image_dataloader"]
        ),
    }


if __name__ == "__main__":
    main()
