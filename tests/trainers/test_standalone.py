"""Stand-alone training (P_proxy): defaults per space, run dir, exact resume, CLI, other spaces."""

import json

import pytest

from cpu_goldens import count_of
from wsnas.cli.main import main
from wsnas.config import ProxyConfig, StandaloneConfig, load_config
from wsnas.core.errors import ArchError, ConfigError, WsnasError
from wsnas.spaces import get_space
from wsnas.trainers.standalone_trainer import StandaloneTrainer, train_standalone

pytest.importorskip("sklearn")

ARCH = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|"


OVERRIDES = [
    "space.name=nb201_mini",
    "data.name=digits",
    "runtime.device=cpu",
    "runtime.threads=1",
    "runtime.progress=false",
    "proxy.channels=4",
]


def _cfg(tmp_path, **proxy):
    overrides = [*OVERRIDES, f"out_dir={tmp_path}", *(f"proxy.{k}={v}" for k, v in proxy.items())]
    return load_config(None, overrides, model=StandaloneConfig).model_copy(update={"arch": ARCH})


@pytest.mark.parametrize(
    "space, lr, epochs",
    [("nb201", 0.1, 200), ("nb101", 0.2, 108), ("darts_nds", 0.1, 100), ("nb201_mini", 0.1, 40)],
)
def test_proxy_defaults_are_the_benchmarks(space, lr, epochs):
    p = ProxyConfig().resolved(get_space(space).proxy)
    assert (p.lr, p.epochs) == (lr, epochs)
    assert all(
        getattr(p, k) is not None for k in ("batch_size", "weight_decay", "nesterov", "channels", "cells")
    )
    assert ProxyConfig(lr=0.5).resolved(get_space(space).proxy).lr == 0.5


def test_run_dir_and_summary(tmp_path, cpu_golden):
    summary = train_standalone(_cfg(tmp_path, epochs=2, eval_epochs="[1]"))
    run = tmp_path / summary["run_dir"].split("/")[-1]
    assert {"config.yaml", "log.jsonl", "checkpoint.pt", "summary.json"} <= {p.name for p in run.iterdir()}
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["type"] for r in log] == ["epoch", "eval", "epoch", "eval"]
    assert summary["status"] == "finished" and summary["kind"] == "standalone"
    assert summary["arch"] == ARCH and summary["epochs"] == 2
    # golden: seeded CPU run, threads=1 (test digits right after epochs 1 and 2, of 599; mean train
    # loss per epoch)
    cpu_golden.expect("eval_right", [count_of(r["eval_acc"], 599) for r in log if r["type"] == "eval"])
    cpu_golden.expect("train_loss", [r["train_loss"] for r in log if r["type"] == "epoch"], abs=1e-6)
    cpu_golden.verify()
    assert summary["final"]["eval_acc"] == log[-1]["eval_acc"]
    assert summary["proxy"]["lr"] == 0.1 and summary["proxy"]["channels"] == 4
    with pytest.raises(
        WsnasError, match="already holds a run; resume it with `wsnas standalone train --resume"
    ):
        train_standalone(_cfg(tmp_path, epochs=2, eval_epochs="[1]"))


def test_resume_after_crash_matches_uninterrupted(tmp_path, monkeypatch):
    full = train_standalone(_cfg(tmp_path / "a", epochs=3))
    calls = {"n": 0}
    original = StandaloneTrainer.train_epoch

    def crash_on_third(self):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(StandaloneTrainer, "train_epoch", crash_on_third)
    cfg = _cfg(tmp_path / "b", epochs=3)
    with pytest.raises(KeyboardInterrupt):
        train_standalone(cfg)
    monkeypatch.setattr(StandaloneTrainer, "train_epoch", original)
    run_dir = str(tmp_path / "b" / full["run_dir"].split("/")[-1])
    resumed = train_standalone(cfg, resume_dir=run_dir)
    assert resumed["final"] == full["final"]
    assert len((tmp_path / "b").glob("*/log.jsonl").__next__().read_text().splitlines()) == 4


def test_cli_train_resume_and_errors(tmp_path, capsys):
    args = [
        "standalone",
        "train",
        "nb201_mini",
        ARCH,
        "data.name=digits",
        "runtime.threads=1",
        "proxy.epochs=1",
        "proxy.channels=4",
        f"out_dir={tmp_path}",
        "name=r",
    ]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "finished" and out["arch"] == ARCH and "eval_acc" in out
    assert main(["standalone", "train", "--resume", str(tmp_path / "r")]) == 0  # finished: nothing left
    resumed, err = capsys.readouterr()
    assert json.loads(resumed) == out and f"{tmp_path / 'r'} is finished (1 epochs): nothing to resume" in err
    cfg_file = tmp_path / "sa.yaml"
    cfg_file.write_text("data:\n  name: digits\nproxy:\n  epochs: 1\n  channels: 4\n")
    assert (
        main(
            [
                "standalone",
                "train",
                "nb201_mini",
                ARCH,
                "--config",
                str(cfg_file),
                "runtime.threads=1",
                f"out_dir={tmp_path}",
                "name=c",
            ]
        )
        == 0
    )  # overrides after the option
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["status"] == "finished"
    assert main(["standalone", "train", "--resume", str(tmp_path / "r"), "proxy.lr=0.5"]) == 2
    assert "change the experiment" in capsys.readouterr().err
    assert (
        main(
            [
                "standalone",
                "train",
                "nb201_mini",
                "|conv~0|+|none~0|none~1|",
                "data.name=digits",
                f"out_dir={tmp_path}",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "unknown op 'conv'" in err
    assert not (tmp_path / "standalone-nb201_mini-s0").exists()
    assert main(["standalone", "train", "nb201_mini", ARCH, "proxy.lr=-1"]) == 2
    assert "proxy.lr" in capsys.readouterr().err


def test_bad_inputs_leave_nothing(tmp_path):
    with pytest.raises(ArchError):
        train_standalone(_cfg(tmp_path).model_copy(update={"arch": "|x~0|"}))
    with pytest.raises(ConfigError, match="unknown key 'proxy.lrr'"):
        load_config(None, ["proxy.lrr=1"], model=StandaloneConfig)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "space, arch, extra",
    [
        ("nb201", "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|avg_pool_3x3~2|", []),
        (
            "nb101",
            '{"matrix": [[0,1,1],[0,0,1],[0,0,0]], "ops": ["input","conv3x3-bn-relu","output"]}',
            ["proxy.cells=1"],
        ),
        (
            "darts_nds",
            "Genotype(normal=[('sep_conv_3x3', 0), ('skip_connect', 1), ('max_pool_3x3', 0), "
            "('dil_conv_3x3', 2), ('avg_pool_3x3', 1), ('skip_connect', 0), ('sep_conv_5x5', 3), "
            "('none', 4)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('skip_connect', 1), "
            "('dil_conv_5x5', 2), ('max_pool_3x3', 0), ('avg_pool_3x3', 1), ('sep_conv_3x3', 3), "
            "('skip_connect', 2), ('dil_conv_3x3', 4)], reduce_concat=[2, 3, 4, 5])",
            ["proxy.cells=3"],
        ),
    ],
    ids=["nb201", "nb101", "darts_nds"],
)
def test_every_space_trains_stand_alone(tmp_path, space, arch, extra, cpu_golden):
    overrides = [
        f"space.name={space}",
        "data.name=digits",
        "runtime.threads=1",
        "runtime.progress=false",
        "proxy.epochs=1",
        "proxy.channels=4",
        "proxy.batch_size=128",
        f"out_dir={tmp_path}",
        *extra,
    ]
    cfg = load_config(None, overrides, model=StandaloneConfig).model_copy(update={"arch": arch})
    summary = train_standalone(cfg)
    assert summary["status"] == "finished" and summary["space"] == space
    # golden: seeded CPU run, threads=1 (test digits right after 1 epoch, of 599)
    cpu_golden.expect("test_right", count_of(summary["final"]["eval_acc"], 599))
    cpu_golden.verify()


def test_tensorboard_logging(tmp_path):
    pytest.importorskip("tensorboard", reason="optional extra: pip install 'wsnas[tensorboard]'")
    cfg = load_config(
        None,
        [*OVERRIDES, f"out_dir={tmp_path}", "proxy.epochs=1", "logging.tensorboard=true"],
        model=StandaloneConfig,
    ).model_copy(update={"arch": ARCH})
    summary = train_standalone(cfg)
    events = list((tmp_path / summary["run_dir"].split("/")[-1] / "tb").glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0


@pytest.mark.slow  # evaluates the whole CIFAR-10 test set
def test_nb201_on_real_cifar10(tmp_path, cifar10_root):
    arch = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
    overrides = [
        "space.name=nb201",
        f"data.root={cifar10_root}",
        "data.train_portion=0.01",
        "runtime.threads=2",
        "runtime.progress=false",
        "proxy.epochs=1",
        "proxy.channels=4",
        "proxy.cells=1",
        "proxy.batch_size=100",
        f"out_dir={tmp_path}",
    ]
    cfg = load_config(None, overrides, model=StandaloneConfig).model_copy(update={"arch": arch})
    summary = train_standalone(cfg)
    log = [
        json.loads(line)
        for line in (tmp_path / summary["run_dir"].split("/")[-1] / "log.jsonl").read_text().splitlines()
    ]
    assert log[0]["type"] == "epoch" and log[-1]["eval_images"] == 10000  # the whole test set
    assert summary["proxy"]["lr"] == 0.1 and summary["proxy"]["nesterov"] is True
