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
