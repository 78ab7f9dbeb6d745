"""ENAS's LSTM controller for a cell with one op per edge (xautodl's NB201 `Controller`,
`models/cell_searchs/search_model_enas_utils.py`, after TDeVries/enas_pytorch).

It writes an architecture as one token per edge, in the space's `edges` order: a two-layer LSTM whose
first input is a learnt vector and each later input the embedding of the op just chosen; each step's
logits are `tanh_constant * tanh(W h / temperature)` over the ops. Sampling draws from a
`torch.Generator` of its own (its state goes in the checkpoint) so the weights' random stream is
untouched; scoring given architectures (`evaluate`) runs the same LSTM over all of them at once
(teacher forcing), which is how REINFORCE gets the log-probability and entropy of its samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

LSTM_SIZE = 32
LSTM_LAYERS = 2
INIT_RANGE = 0.1
"""xautodl's controller: hidden size 32, two layers; its first-layer, embedding and output weights and
the first input uniform in (-0.1, 0.1), the rest PyTorch's default."""


class Controller(nn.Module):
    """Autoregressive distribution over `slots` choices of `num_ops` ops each."""

    def __init__(self, slots: int, num_ops: int, tanh_constant: float, temperature: float) -> None:
        super().__init__()
        self.slots, self.num_ops = slots, num_ops
        self.tanh_constant, self.temperature = float(tanh_constant), float(temperature)
        self.input_vars = nn.Parameter(torch.empty(1, 1, LSTM_SIZE))
        self.w_lstm = nn.LSTM(input_size=LSTM_SIZE, hidden_size=LSTM_SIZE, num_layers=LSTM_LAYERS)
        self.w_embd = nn.Embedding(num_ops, LSTM_SIZE)
        self.w_pred = nn.Linear(LSTM_SIZE, num_ops)
        lstm = [getattr(self.w_lstm, name) for name in ("weight_hh_l0", "weight_ih_l0")]
        for w in [self.input_vars, *lstm, self.w_embd.weight, self.w_pred.weight]:
            nn.init.uniform_(w, -INIT_RANGE, INIT_RANGE)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """The squashed logits of the LSTM's outputs (..., num_ops)."""
        return self.tanh_constant * torch.tanh(self.w_pred(hidden) / self.temperature)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator) -> list[tuple[int, ...]]:
        """N architectures drawn from the controller, op by op, each op from its own draw of GENERATOR
        (on the CPU, whatever the controller's device, so a run's draws do not depend on it)."""
        inputs = self.input_vars.expand(1, n, LSTM_SIZE)
        state: tuple[torch.Tensor, torch.Tensor] | None = None
        chosen = []
        for _ in range(self.slots):
            out, state = self.w_lstm(inputs, state)
            probs = F.softmax(self.logits(out[0]).float(), dim=-1).cpu()
            op = torch.multinomial(probs, 1, generator=generator).squeeze(1)
            chosen.append(op)
            inputs = self.w_embd(op.to(self.input_vars.device)).unsqueeze(0)
        return [tuple(int(o) for o in row) for row in torch.stack(chosen, 1).tolist()]

    def evaluate(self, archs: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """(log-probability, entropy) of each architecture, summed over its slots, as differentiable
        tensors of shape (len(archs),): the entropy is that of each step's distribution given the
        architecture's earlier ops (what the sampler met on the way to it)."""
        ops = torch.as_tensor([list(a) for a in archs], dtype=torch.long, device=self.input_vars.device)
        n = ops.shape[0]
        first = self.input_vars.expand(1, n, LSTM_SIZE)
        rest = self.w_embd(ops[:, :-1].t())  # (slots - 1, n, H): the op chosen before each later slot
        out, _ = self.w_lstm(torch.cat([first, rest], 0))
        logp_all = F.log_softmax(self.logits(out), dim=-1)  # (slots, n, ops)
        logp = logp_all.gather(-1, ops.t().unsqueeze(-1)).squeeze(-1).sum(0)
        entropy = -(logp_all.exp() * logp_all).sum(-1).sum(0)
        return logp, entropy


OP_TANH_REDUCE = 2.5
OP_BIAS, OP_BIAS_FIXED = 10.0, 0.25
"""ENAS's micro controller (and eval-nas's NB101 copy of it): the op logits' tanh constant is the
controller's divided by 2.5; the op layer's learnt bias starts at 10 for the favoured ops (the
reference's first two, its separable convolutions; eval-nas's conv3x3 and conv1x1) and 0 for the
others, and a fixed bias of +0.25 (favoured) / -0.25 (others) is added to the squashed op logits."""


class NodeController(nn.Module):
    """ENAS's micro controller (melodyguan/enas `micro_controller.py`, as eval-nas runs it on NB101)
    over a node grammar (`wsnas.spaces.grammar.NodeLayout`), space-agnostic.

    Per cell: the LSTM steps once on the start embedding for each of the cell's first input states,
    whose anchor is zero and whose attention key is `w_attn_1` of the LSTM output. Per node: for each
    of its pairs an input step (logits over the anchors so far: `v_attn(tanh(key + w_attn_2 h))`, then
    temperature and tanh constant; the next LSTM input is the chosen anchor), then for each pair an op
    step (`w_soft h + b_soft`, temperature, tanh constant / 2.5, plus the fixed bias; the next input is
    the op's embedding), then one more step whose output is the node's anchor; the next node starts
    from the start embedding. The second cell goes on from the first's LSTM state with anchors anew.
    Values are written in the grammar's layout (input_1, op_1, input_2, op_2, ...).
    """

    def __init__(
        self,
        layout: Any,
        num_ops: int,
        favoured: Sequence[int],
        tanh_constant: float,
        temperature: float,
    ) -> None:
        super().__init__()
        self.layout, self.num_ops = layout, num_ops
        self.tanh_constant, self.temperature = float(tanh_constant), float(temperature)
        self.length = layout.cells * layout.nodes * layout.pairs * 2
        self.g_emb = nn.Parameter(torch.empty(1, 1, LSTM_SIZE))
        self.w_lstm = nn.LSTM(input_size=LSTM_SIZE, hidden_size=LSTM_SIZE, num_layers=LSTM_LAYERS)
        self.w_embd = nn.Embedding(num_ops, LSTM_SIZE)
        self.w_soft = nn.Linear(LSTM_SIZE, num_ops, bias=False)
        self.b_soft = nn.Parameter(torch.zeros(num_ops))
        self.w_attn_1 = nn.Linear(LSTM_SIZE, LSTM_SIZE, bias=False)
        self.w_attn_2 = nn.Linear(LSTM_SIZE, LSTM_SIZE, bias=False)
        self.v_attn = nn.Linear(LSTM_SIZE, 1, bias=False)
        for name, w in self.named_parameters():
            if name != "b_soft":
                nn.init.uniform_(w, -INIT_RANGE, INIT_RANGE)
        fixed = torch.full((num_ops,), -OP_BIAS_FIXED)
        with torch.no_grad():
            for o in favoured:
                self.b_soft[o] = OP_BIAS
                fixed[o] = OP_BIAS_FIXED
        self.b_fixed: torch.Tensor
        self.register_buffer("b_fixed", fixed)

    def input_logits(self, h: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """(n, anchors) logits of an input step: H (n, H), KEYS (n, anchors, H)."""
        scores = self.v_attn(torch.tanh(keys + self.w_attn_2(h).unsqueeze(1))).squeeze(-1)
        return self.tanh_constant * torch.tanh(scores / self.temperature)

    def op_logits(self, h: torch.Tensor) -> torch.Tensor:
        logits = (self.w_soft(h) + self.b_soft) / self.temperature
        return self.tanh_constant / OP_TANH_REDUCE * torch.tanh(logits) + self.b_fixed

    def run(
        self, n: int, given: torch.Tensor | None = None, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(values (n, length), log-probability (n,), entropy (n,)): drawn from GENERATOR, or GIVEN
        (teacher forcing: the log-probability and entropy of those values)."""
        lay, dev = self.layout, self.g_emb.device
        rows = torch.arange(n, device=dev)
        g = self.g_emb.expand(1, n, LSTM_SIZE)
        state: tuple[torch.Tensor, torch.Tensor] | None = None
        values = torch.zeros(n, self.length, dtype=torch.long, device=dev)
        logp = torch.zeros(n, device=dev)
        entropy = torch.zeros(n, device=dev)

        def step(inputs: torch.Tensor) -> torch.Tensor:
            nonlocal state
            out, state = self.w_lstm(inputs, state)
            return out[0]

        def choose(logits: torch.Tensor, at: int) -> torch.Tensor:
            nonlocal logp, entropy
            log_p = F.log_softmax(logits, dim=-1)
            if given is None:
                assert generator is not None
                probs = F.softmax(logits.detach().float(), dim=-1).cpu()
                pick = torch.multinomial(probs, 1, generator=generator).squeeze(1).to(dev)
            else:
                pick = given[:, at]
            values[:, at] = pick
            logp = logp + log_p.gather(1, pick.unsqueeze(1)).squeeze(1)
            entropy = entropy - (log_p.exp() * log_p).sum(-1)
            return pick

        at = 0
        for _ in range(lay.cells):
            anchors, keys = [], []
            inputs = g
            for _ in range(lay.first_inputs):
                h = step(inputs)
                anchors.append(torch.zeros_like(h))
                keys.append(self.w_attn_1(h))
            for _ in range(lay.nodes):
                stack, key_stack = torch.stack(anchors, 1), torch.stack(keys, 1)
                for p in range(lay.pairs):
                    h = step(inputs)
                    index = choose(self.input_logits(h, key_stack), at + 2 * p)
                    inputs = stack[rows, index].unsqueeze(0)
                for p in range(lay.pairs):
                    h = step(inputs)
                    op = choose(self.op_logits(h), at + 2 * p + 1)
                    inputs = self.w_embd(op).unsqueeze(0)
                h = step(inputs)
                anchors.append(h)
                keys.append(self.w_attn_1(h))
                inputs = g
                at += 2 * lay.pairs
        return values, logp, entropy

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator) -> list[tuple[int, ...]]:
        """N value sequences drawn from the controller (each choice its own draw of GENERATOR, on
        the CPU)."""
        values, _, _ = self.run(n, generator=generator)
        return [tuple(int(v) for v in row) for row in values.tolist()]

    def evaluate(self, seqs: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """(log-probability, entropy) of each value sequence, summed over its choices, differentiable
        (the entropy of each step's distribution given the sequence's earlier choices)."""
        given = torch.as_tensor([list(s) for s in seqs], dtype=torch.long, device=self.g_emb.device)
        _, logp, entropy = self.run(given.shape[0], given=given)
        return logp, entropy
