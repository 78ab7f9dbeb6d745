"""NAO's encoder, performance predictor and decoder (renqianluo/NAO_pytorch `encoder.py`, `decoder.py`,
`controller.py`, as NAO_V1's weight-sharing search builds them: one LSTM layer of 64 each, no MLP
before the predictor's linear layer), for a cell with one op per edge.

An architecture is a token sequence, one token per edge in the space's `edges` order: its op's index
+ 1 (0 is the decoder's start symbol). The encoder's LSTM outputs, each L2-normalised, are the
decoder's attention memory; their normalised mean is the embedding, whose sigmoid-linear map is the
predicted (min-max normalised) accuracy, and which starts the decoder (as both its hidden and cell
state). Decoding is greedy and, as the reference's `decode` does, takes each position's argmax among
the tokens valid there (here every position is an op), so every decoded sequence is an architecture.
A new candidate moves an architecture's encoder outputs up the predictor's gradient by a step size,
renormalises them and decodes (the reference's `generate_new_arch`, direction '+').

Where the reference packs two tokens into one LSTM input (40 tokens in 20 steps, embeddings of 32),
here each edge's token is one step with an embedding of the hidden size: an NB201 cell has 6 edges.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

HIDDEN = 64
ATTN_INIT = 0.04
"""NAO_V1: encoder and decoder hidden size 64, one layer each; attention weights uniform in +-0.04."""
SOS = 0


class Attention(nn.Module):
    """Dot-product attention over the encoder outputs, combined with the query by tanh(W [mix; q])."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.linear_out = nn.Linear(2 * dim, dim)
        nn.init.uniform_(self.linear_out.weight, -ATTN_INIT, ATTN_INIT)

    def forward(self, output: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        attn = F.softmax(torch.bmm(output, context.transpose(1, 2)), dim=-1)
        mix = torch.bmm(attn, context)
        return torch.tanh(self.linear_out(torch.cat([mix, output], dim=-1)))


class EncoderPredictorDecoder(nn.Module):
    """NAO's controller over sequences of `slots` tokens: op tokens 1..num_ops (an edge grammar), or
    the tokens of RANGES, position by position ([lo, hi) each, `TokenGrammar.token_range`; the
    vocabulary is 0..max hi - 1)."""

    def __init__(
        self,
        slots: int,
        num_ops: int,
        hidden: int = HIDDEN,
        ranges: list[tuple[int, int]] | None = None,
    ) -> None:
        super().__init__()
        self.slots, self.num_ops = slots, num_ops
        self.ranges = ranges if ranges is not None else [(1, num_ops + 1)] * slots
        vocab = max(hi for _, hi in self.ranges)
        self.enc_embedding = nn.Embedding(vocab, hidden)
        self.enc_rnn = nn.LSTM(hidden, hidden, 1, batch_first=True)
        self.regressor = nn.Linear(hidden, 1)
        self.dec_embedding = nn.Embedding(vocab, hidden)
        self.dec_rnn = nn.LSTM(hidden, hidden, 1, batch_first=True)
        self.attention = Attention(hidden)
        self.out = nn.Linear(hidden, vocab)

    # ---- encoder and predictor ---------------------------------------------------------------------
    def encode(self, tokens: torch.Tensor) -> torch.Tensor:
        """The normalised LSTM outputs (batch, slots, hidden) of token sequences (batch, slots)."""
        out, _ = self.enc_rnn(self.enc_embedding(tokens))
        return F.normalize(out, 2, dim=-1)

    def embed(self, outputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(embedding, predicted performance in (0, 1)) of encoder outputs."""
        emb = F.normalize(outputs.mean(dim=1), 2, dim=-1)
        return emb, torch.sigmoid(self.regressor(emb)).squeeze(-1)

    def predict(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.embed(self.encode(tokens))[1]

    # ---- decoder -----------------------------------------------------------------------------------
    def _decode_steps(
        self,
        inputs: torch.Tensor,
        state: tuple[torch.Tensor, torch.Tensor],
        memory: torch.Tensor,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        out, state = self.dec_rnn(self.dec_embedding(inputs), state)
        return F.log_softmax(self.out(self.attention(out, memory)), dim=-1), state

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Training: (predicted performance (batch,), the decoder's log-probabilities (batch, slots,
        vocab) of each token given the earlier ones, teacher-forced from the start symbol)."""
        outputs = self.encode(tokens)
        emb, predicted = self.embed(outputs)
        start = torch.full_like(tokens[:, :1], SOS)
        state = (emb.unsqueeze(0).contiguous(), emb.unsqueeze(0).contiguous())
        log_probs, _ = self._decode_steps(torch.cat([start, tokens[:, :-1]], 1), state, outputs)
        return predicted, log_probs

    def decode(self, emb: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        """Greedy decoding from embeddings (batch, hidden), each position's argmax among its valid
        tokens (an op, or an input of the node): token sequences (batch, slots)."""
        state = (emb.unsqueeze(0).contiguous(), emb.unsqueeze(0).contiguous())
        inputs = torch.full((emb.shape[0], 1), SOS, dtype=torch.long, device=emb.device)
        chosen = []
        for lo, hi in self.ranges:
            log_probs, state = self._decode_steps(inputs, state, memory)
            inputs = log_probs[:, :, lo:hi].argmax(-1) + lo
            chosen.append(inputs)
        return torch.cat(chosen, 1)

    @torch.no_grad()
    def reconstruct(self, tokens: torch.Tensor) -> torch.Tensor:
        """Each sequence decoded from its own embedding."""
        outputs = self.encode(tokens)
        return self.decode(self.embed(outputs)[0], outputs)

    def moved(self, tokens: torch.Tensor, step: float) -> tuple[torch.Tensor, torch.Tensor]:
        """(encoder outputs moved STEP along the predictor's gradient and renormalised, their
        embedding): NAO's move in the continuous space."""
        with torch.enable_grad():
            outputs = self.encode(tokens)
            predicted = self.embed(outputs)[1]
            (grad,) = torch.autograd.grad(predicted.sum(), outputs)
        new = F.normalize(outputs.detach() + step * grad, 2, dim=-1)
        return new, F.normalize(new.mean(dim=1), 2, dim=-1)

    def generate(self, tokens: torch.Tensor, step: float) -> torch.Tensor:
        """New token sequences: TOKENS moved STEP up the predictor's gradient, then decoded."""
        new, emb = self.moved(tokens, step)
        with torch.no_grad():
            return self.decode(emb, new)
