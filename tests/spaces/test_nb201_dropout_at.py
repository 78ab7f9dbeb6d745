"""`mapping.dropout_path_at`: path dropout on edges (the paper's text) or on cell outputs scaled by
depth (the authors' NB201 code); training only, and the default leaves every config hash as it was."""

from __future__ import annotations

import pytest
import torch

from wsnas.config import LowFidelityConfig, MappingConfig
from wsnas.core.errors import ConfigError
from wsnas.spaces import get_space
from wsnas.spaces.mini.supernet import MiniSuperNet
from wsnas.spaces.nb201.supernet import NB201SuperCell, NB201SuperNet, cell_drop_rates

TINY = LowFidelityConfig(channels=4, cells_per_stage=1)
FULL_PATH = (3, 2, 4, 1, 3, 2)


def _net(**mapping: object) -> NB201SuperNet:
    torch.manual_seed(0)
    return NB201SuperNet(MappingConfig(**mapping), TINY)


def _x(n: int = 8) -> torch.Tensor:
    return torch.randn(n, 3, 8, 8, generator=torch.Generator().manual_seed(1))


def test_rates_follow_the_authors_depth_rule() -> None:
    # layers = 3N + 2 (residual blocks counted); the last layer drops at p
    assert cell_drop_rates(0.3, 5) == pytest.approx((0.06, 0.12, 0.18, 0.24, 0.3))
    net = _net(dropout_path=0.3, dropout_path_at="cell")
    layers = len(net.cells)
    assert layers == 5
    cells = [(i, c) for i, c in enumerate(net.cells) if isinstance(c, NB201SuperCell)]
    got = [(i, c.cell_drop_p, c.drop_path_p) for i, c in cells]
    assert got == [(i, pytest.approx(0.3 * (i + 1) / layers), 0.0) for i in (0, 2, 4)]
    rates = [c.cell_drop_p for _, c in cells]
    assert rates == sorted(rates) and rates[0] < rates[-1]  # deeper cells drop more


def test_edges_is_the_old_behaviour() -> None:
    net = _net(dropout_path=0.3)
    cells = [c for c in net.cells if isinstance(c, NB201SuperCell)]
    assert cells and all(c.drop_path_p == 0.3 and c.cell_drop_p == 0.0 for c in cells)


IO = tuple[list[torch.Tensor], list[torch.Tensor]]


def _cell_io(net: NB201SuperNet, index: int, x: torch.Tensor) -> IO:
    """Inputs and outputs of cell INDEX over a forward, recorded by a hook."""
    ins: list[torch.Tensor] = []
    outs: list[torch.Tensor] = []

    def record(module: torch.nn.Module, args: tuple, out: torch.Tensor) -> None:
        ins.append(args[0])
        outs.append(out)

    handle = net.cells[index].register_forward_hook(record)
    try:
        net(x, FULL_PATH)
    finally:
        handle.remove()
    return ins, outs


@pytest.mark.parametrize("fast", [True, False])
def test_cell_drops_whole_outputs_per_sample_and_rescales(fast: bool) -> None:
    net = _net(dropout_path=0.9, dropout_path_at="cell")
    net.fast_path = fast
    x = _x(64)
    last = len(net.cells) - 1  # drops at p = 0.9
    net.eval()
    _, (clean,) = _cell_io(net, last, x)
    net.train()
    torch.manual_seed(5)
    ins, (dropped,) = _cell_io(net, last, x)
    # the same input through the same cell, dropout off, in train mode (batch-stat BN)
    cell = net.cells[last]
    rate, cell.cell_drop_p = cell.cell_drop_p, 0.0
    ref = cell(ins[0], net.plans(FULL_PATH)[last], fast)
    cell.cell_drop_p = rate
    zero = (dropped.flatten(1) == 0).all(1)
    assert 0 < int(zero.sum()) < 64  # some samples lose the whole cell, others keep it
    kept = ~zero
    torch.testing.assert_close(dropped[kept], ref[kept] / (1 - 0.9))
    assert not torch.equal(clean, dropped)


def test_cell_differs_from_edges_in_training_and_equals_it_in_eval() -> None:
    edges, cell = _net(dropout_path=0.5), _net(dropout_path=0.5, dropout_path_at="cell")
    cell.load_state_dict(edges.state_dict())
    x = _x()
    edges.train(), cell.train()
    torch.manual_seed(2)
    a = edges(x, FULL_PATH)
    torch.manual_seed(2)
    b = cell(x, FULL_PATH)
    assert not torch.allclose(a, b)
    edges.eval(), cell.eval()
    plain = _net()
    plain.load_state_dict(edges.state_dict())
    plain.eval()
    torch.testing.assert_close(edges(x, FULL_PATH), cell(x, FULL_PATH), rtol=0, atol=0)
    torch.testing.assert_close(cell(x, FULL_PATH), plain(x, FULL_PATH), rtol=0, atol=0)


def test_standalone_extraction_unaffected() -> None:
    net = _net(dropout_path=0.5, dropout_path_at="cell")
    net.eval()
    x = _x()
    torch.testing.assert_close(net.extract_standalone(FULL_PATH)(x), net(x, FULL_PATH))


def test_mini_runs_the_same_cell_dropout() -> None:
    inner = _net(dropout_path=0.5, dropout_path_at="cell")
    mini, edges = MiniSuperNet(inner), MiniSuperNet(_net(dropout_path=0.5))
    assert [c.cell_drop_p for c in inner.cells if isinstance(c, NB201SuperCell)][-1] == pytest.approx(0.5)
    x = _x(32)
    mini.train(), edges.train()
    torch.manual_seed(0)
    a = mini(x, (3, 2, 4))
    torch.manual_seed(0)
    assert not torch.allclose(a, edges(x, (3, 2, 4)))
    mini.eval(), edges.eval()
    torch.testing.assert_close(mini(x, (3, 2, 4)), edges(x, (3, 2, 4)), rtol=0, atol=0)


@pytest.mark.parametrize("name", ["nb101", "darts_nds"])
def test_other_spaces_refuse_cell(name: str) -> None:
    space = get_space(name)
    mapping = MappingConfig(dropout_path=0.2, dropout_path_at="cell")
    with pytest.raises(ConfigError, match=f"mapping.dropout_path_at=cell has no effect on {name}"):
        space.supernet(mapping, LowFidelityConfig(channels=4, cells_per_stage=1))
