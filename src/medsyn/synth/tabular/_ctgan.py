"""``ctgan``: a conditional Wasserstein GAN on mode-specific normalised rows (Xu et al. 2019, CTGAN).

Written from the paper, not from any implementation:

- **mode-specific normalisation** (:mod:`._transform`): per numeric column a ``tanh`` scalar
  within a mode of its Bayesian Gaussian mixture plus the mode's one-hot; per categorical column
  a one-hot. The generator's one-hot spans are Gumbel-softmax samples (temperature 0.2);
- **conditional vector and training-by-sampling**: each training row of the generator is
  conditioned on one categorical column's category, the column chosen uniformly and the
  category with probability proportional to the log of its frequency (rare categories are
  trained on, not drowned), and the critic sees real rows drawn among those with that category;
  a cross-entropy term makes the generator honour its condition;
- **WGAN-GP with PacGAN**: the critic scores ``pac`` rows at once (against mode collapse) and is
  trained with a gradient penalty (weight 10); residual generator layers with batch norm;
  Adam with β = (0.5, 0.9).

At sampling time the conditional vector is drawn as in the data (column uniform, category by its
frequency). A condition on a categorical column is native: the vector is drawn among the allowed
categories, with their training frequencies, the rows come from the generator conditioned on
that vector, and the conditioned column is the category of the vector (where several categorical
columns are conditioned, the one whose allowed categories are rarest in training). Conditions on
further columns are left to the base class, which verifies every row and redraws those that fail.

Defaults are sized for a CPU: 25 epochs of batches of 500 rows train a 10,000-row, 23-column
table (UCI diabetes) in about a minute on one core (2.3 s per epoch after a 4 s transform; the
paper's 300 epochs would take 12 minutes. On the same core, 10 epochs: 24.5 s and SDMetrics
quality 0.80 here, 48.5 s and 0.78 for SDV's CTGAN). A GAN's marginals need more steps than a
VAE's: on FLCHAIN (7,874 rows) the largest per-column gap fell from 0.30 (25 epochs) to 0.17
(100 epochs), while on the diabetes table SDMetrics' quality did not improve past 10 epochs —
raise ``epochs`` where quality matters more than minutes, or use a GPU (``device="auto"`` takes
one when there is one).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from medsyn.data.conditions import Conditions, Op
from medsyn.data.dataset import Modality
from medsyn.errors import InputError, Problem
from medsyn.synth._base import GENERATORS, Supports
from medsyn.synth.tabular._plan import ModelColumn
from medsyn.synth.tabular._torch_common import (
    LAYERS,
    NON_NEGATIVE,
    POSITIVE,
    POSITIVE_INT,
    Check,
    DeepTabularGenerator,
    SpanLayout,
    dropout,
    linear,
)
from medsyn.synth.tabular._transform import Span

if TYPE_CHECKING:
    import torch

__all__ = ["CTGAN"]

_TAU = 0.2  # Gumbel-softmax temperature
_GP_WEIGHT = 10.0
_LEAK = 0.2
_DROPOUT = 0.5


@GENERATORS.register("ctgan")
class CTGAN(DeepTabularGenerator):
    """Conditional tabular GAN with mode-specific normalisation (torch; GPU when available).

    Parameters
    ----------
    epochs
        Passes over the training table (each pass is ``n_rows / batch_size`` steps).
    batch_size
        Rows per step; a multiple of ``pac``.
    embedding_dim
        Size of the generator's noise vector.
    generator_dims, discriminator_dims
        Widths of the generator's residual layers and of the critic's hidden layers.
    generator_lr, discriminator_lr
        Adam learning rates.
    generator_decay, discriminator_decay
        Adam weight decays.
    discriminator_steps
        Critic steps per generator step.
    pac
        Rows the critic scores together (PacGAN).
    log_frequency
        Train on categories with probability ∝ log(frequency) (as the paper) instead of ∝ frequency.
    max_modes
        Modes of each numeric column's Gaussian mixture.
    device
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``. The same
        seed gives the same rows on the same device.
    threads
        torch's CPU threads during fit and sample (at most the cores this process may use).

    Examples
    --------
    >>> import pandas as pd
    >>> from medsyn.synth.tabular._ctgan import CTGAN
    >>> df = pd.DataFrame({"age": [30, 40, 50, 60, 70, 80] * 5, "sex": list("FMFMFM") * 5})
    >>> out = CTGAN(epochs=2, batch_size=20, device="cpu").fit(df).sample(4, conditions="sex == 'F'", seed=0)
    >>> sorted(set(out.data["sex"]))
    ['F']
    """

    name = "ctgan"
    supports = Supports(
        frozenset({Modality.TABULAR}),
        conditions="native",
        gpu=True,
        summary=(
            "conditional WGAN-GP on mode-normalised rows (torch); native conditions on one categorical column "
            "(others by rejection); about a minute for 10k rows on one CPU core"
        ),
    )
    _checks: ClassVar[dict[str, Check]] = DeepTabularGenerator._checks | {
        "embedding_dim": POSITIVE_INT,
        "generator_dims": LAYERS,
        "discriminator_dims": LAYERS,
        "generator_lr": POSITIVE,
        "discriminator_lr": POSITIVE,
        "generator_decay": NON_NEGATIVE,
        "discriminator_decay": NON_NEGATIVE,
        "discriminator_steps": POSITIVE_INT,
        "pac": POSITIVE_INT,
    }

    quick_params: ClassVar[Mapping[str, Any]] = {"epochs": 5, "batch_size": 200}

    def __init__(
        self,
        *,
        epochs: int = 25,
        batch_size: int = 500,
        embedding_dim: int = 128,
        generator_dims: Sequence[int] = (256, 256),
        discriminator_dims: Sequence[int] = (256, 256),
        generator_lr: float = 2e-4,
        discriminator_lr: float = 2e-4,
        generator_decay: float = 1e-6,
        discriminator_decay: float = 1e-6,
        discriminator_steps: int = 1,
        pac: int = 10,
        log_frequency: bool = True,
        max_modes: int = 10,
        device: str = "auto",
        threads: int = 1,
    ) -> None:
        self.epochs = epochs
        self.batch_size = batch_size
        self.embedding_dim = embedding_dim
        self.generator_dims = generator_dims
        self.discriminator_dims = discriminator_dims
        self.generator_lr = generator_lr
        self.discriminator_lr = discriminator_lr
        self.generator_decay = generator_decay
        self.discriminator_decay = discriminator_decay
        self.discriminator_steps = discriminator_steps
        self.pac = pac
        self.log_frequency = log_frequency
        self.max_modes = max_modes
        self.device = device
        self.threads = threads

    def _check_params(self) -> None:
        super()._check_params()
        if int(self.batch_size) % int(self.pac):
            raise InputError(
                Problem(
                    "ctgan parameter 'batch_size'",
                    f"{self.batch_size}, not a multiple of pac={self.pac}",
                    "a multiple of pac (the critic scores pac rows at once)",
                    fix=f"pass batch_size={max(1, round(int(self.batch_size) / int(self.pac))) * int(self.pac)}",
                )
            )

    # -- networks ---------------------------------------------------------------------------
    def _build(self, gen: torch.Generator) -> None:
        import torch

        dev, width = self.device_, self.transformer_.width
        self.conditioner_ = _Conditioner(self.transformer_.categorical_spans, self.counts_, dev)
        self.cat_layout_ = SpanLayout(self.transformer_.categorical_spans, width, dev)
        cond = self.conditioner_.width
        self.blocks_: list[tuple[torch.nn.Linear, torch.nn.BatchNorm1d]] = []
        n_in = int(self.embedding_dim) + cond
        for w in (int(x) for x in self.generator_dims):
            self.blocks_.append((linear(n_in, w, gen, dev), torch.nn.BatchNorm1d(w, device=dev)))
            n_in += w  # residual layers concatenate their input
        self.g_out_ = linear(n_in, width, gen, dev)
        self.hidden_: list[torch.nn.Linear] = []
        n_in = (width + cond) * int(self.pac)
        for w in (int(x) for x in self.discriminator_dims):
            self.hidden_.append(linear(n_in, w, gen, dev))
            n_in = w
        self.c_out_ = linear(n_in, 1, gen, dev)
        self.generator_ = torch.nn.ModuleDict(
            {
                "blocks": torch.nn.ModuleList(torch.nn.ModuleDict({"fc": fc, "bn": bn}) for fc, bn in self.blocks_),
                "out": self.g_out_,
            }
        )
        self.critic_ = torch.nn.ModuleDict({"hidden": torch.nn.ModuleList(self.hidden_), "out": self.c_out_})

    def _nets(self) -> dict[str, torch.nn.Module]:
        return {"generator": self.generator_}  # the critic is only needed for training

    def _generator_forward(self, z: torch.Tensor) -> torch.Tensor:
        import torch

        h = z
        for fc, bn in self.blocks_:
            h = torch.cat([torch.relu(bn(fc(h))), h], dim=1)
        out: torch.Tensor = self.g_out_(h)
        return out

    def _critic_forward(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        import torch

        h = x.reshape(-1, x.shape[1] * int(self.pac))
        for layer in self.hidden_:
            h = dropout(torch.nn.functional.leaky_relu(layer(h), _LEAK), _DROPOUT, gen, self.critic_.training)
        out: torch.Tensor = self.c_out_(h)
        return out

    # -- training ---------------------------------------------------------------------------
    def _fit(self, table: pd.DataFrame, columns: list[ModelColumn], rng: np.random.Generator) -> None:
        counts = [
            np.bincount(table[c.name].cat.codes.to_numpy(), minlength=len(c.categories))
            for c in columns
            if c.kind == "categorical"
        ]
        self.counts_ = np.concatenate(counts).astype(np.int64) if counts else np.zeros(0, dtype=np.int64)
        super()._fit(table, columns, rng)

    def _train(self, data: torch.Tensor, gen: torch.Generator, advance: Callable[[int], None]) -> np.ndarray:
        import torch

        g_net, c_net, cond = self.generator_, self.critic_, self.conditioner_
        opt_g = torch.optim.Adam(
            g_net.parameters(), lr=float(self.generator_lr), betas=(0.5, 0.9), weight_decay=float(self.generator_decay)
        )
        opt_c = torch.optim.Adam(
            c_net.parameters(),
            lr=float(self.discriminator_lr),
            betas=(0.5, 0.9),
            weight_decay=float(self.discriminator_decay),
        )
        cond.index_rows(data, self.cat_layout_)
        n, b, pac = data.shape[0], int(self.batch_size), int(self.pac)
        steps = max(1, round(n / b))
        emb, dev = int(self.embedding_dim), data.device
        history = np.zeros((int(self.epochs), 2))
        g_net.train()
        c_net.train()
        for epoch in range(int(self.epochs)):
            total = torch.zeros(2, device=dev)
            for _ in range(steps):
                for _ in range(int(self.discriminator_steps)):
                    vec, _, _, rows = cond.sample_training(b, gen, bool(self.log_frequency))
                    z = torch.randn((b, emb), generator=gen, device=dev)
                    with torch.no_grad():
                        fake = self.layout_.activate(self._generator_forward(torch.cat([z, vec], 1)), gen, _TAU)
                    fake_in = torch.cat([fake, vec], 1)
                    real_in = torch.cat([data[rows], vec], 1)
                    loss_c = self._critic_forward(fake_in, gen).mean() - self._critic_forward(real_in, gen).mean()
                    loss_c = loss_c + self._gradient_penalty(real_in, fake_in, gen, pac)
                    opt_c.zero_grad(set_to_none=True)
                    loss_c.backward()  # type: ignore[no-untyped-call]
                    opt_c.step()
                vec, column, category, _ = cond.sample_training(b, gen, bool(self.log_frequency))
                z = torch.randn((b, emb), generator=gen, device=dev)
                raw = self._generator_forward(torch.cat([z, vec], 1))
                fake = self.layout_.activate(raw, gen, _TAU)
                c_net.requires_grad_(False)
                score = self._critic_forward(torch.cat([fake, vec], 1), gen).mean()
                c_net.requires_grad_(True)
                if cond.width:  # −log p(the conditioned category) in the generator's own output
                    chosen = self.cat_layout_.starts[column] + category
                    honour = self.cat_layout_.cross_entropy_at(raw, column, chosen).mean()
                else:
                    honour = raw.new_zeros(())
                loss_g = honour - score
                opt_g.zero_grad(set_to_none=True)
                loss_g.backward()  # type: ignore[no-untyped-call]
                opt_g.step()
                total += torch.stack([loss_g.detach(), loss_c.detach()])
            history[epoch] = (total / steps).cpu().numpy()
            advance(1)
        cond.forget_rows()
        return history

    def _gradient_penalty(self, real: torch.Tensor, fake: torch.Tensor, gen: torch.Generator, pac: int) -> torch.Tensor:
        import torch

        groups, dim = real.shape[0] // pac, real.shape[1]
        alpha = torch.rand((groups, 1, 1), generator=gen, device=real.device).expand(groups, pac, dim).reshape(-1, dim)
        mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(self._critic_forward(mixed, gen).sum(), mixed, create_graph=True)
        penalty: torch.Tensor = ((grad.reshape(groups, pac * dim).norm(2, dim=1) - 1) ** 2).mean() * _GP_WEIGHT
        return penalty

    # -- sampling ---------------------------------------------------------------------------
    def _generate(self, n: int, gen: torch.Generator, conditions: Conditions, rng: np.random.Generator) -> pd.DataFrame:
        import torch

        native = self._native(conditions)
        vec = self.conditioner_.sample_original(n, gen, native)
        z = torch.randn((n, int(self.embedding_dim)), generator=gen, device=self.device_)
        raw = self._generator_forward(torch.cat([z, vec], 1))
        # the argmax of a Gumbel-softmax sample, as decoding takes it: a draw from each span's softmax
        matrix = self.layout_.draw(raw, gen)
        if native is not None:
            # the conditioned column is the category the row was generated under (a generator that
            # does not yet honour its vector perfectly would otherwise waste draws)
            i = native[0]
            span = self.transformer_.categorical_spans[i]
            offset = int(self.conditioner_.offsets[i])
            matrix[:, span.start : span.stop] = vec[:, offset : offset + span.width]
        return self.transformer_.inverse(matrix.cpu().numpy())

    def _native(self, conditions: Conditions) -> tuple[int, np.ndarray] | None:
        """The categorical column to condition on (the one whose allowed categories are rarest) and its mask."""
        best: tuple[float, int, np.ndarray] | None = None
        names = [self.columns_[s.column].name for s in self.transformer_.categorical_spans]
        for i, name in enumerate(names):
            clauses = [c for c in conditions.on(name) if c.op == Op.IN and isinstance(c.value, tuple)]
            if not clauses:
                continue
            cats = self.columns_[self.transformer_.categorical_spans[i].column].categories
            allowed = np.ones(len(cats), dtype=bool)
            for c in clauses:
                allowed &= np.isin(np.array(cats, dtype=object), np.array(c.value, dtype=object))
            counts = self.conditioner_.column_counts(i)
            share = float(counts[allowed].sum()) / max(float(counts.sum()), 1.0)
            if allowed.all() or share == 0:
                continue  # nothing to steer (or nothing seen in training: left to the base's rejection)
            if best is None or share < best[0]:
                best = (share, i, allowed)
        return None if best is None else (best[1], best[2])

    # -- state ------------------------------------------------------------------------------
    def _extra_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {}, {"category_counts": self.counts_}

    def _load_extra_state(self, state: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        counts = np.asarray(arrays["category_counts"], dtype=np.int64)
        expected = sum(s.width for s in self.transformer_.categorical_spans)
        if counts.shape != (expected,):
            raise ValueError(f"category counts have shape {counts.shape}; expected ({expected},)")
        self.counts_ = counts


class _Conditioner:
    """The conditional vector: one categorical column's one-hot among all categorical columns' spans.

    Training draws (column, category, a real row with that category) with tensors only; the real
    rows are indexed once per fit (per column, the row numbers sorted by category).
    """

    def __init__(self, spans: Sequence[Span], counts: np.ndarray, device: torch.device) -> None:
        import torch

        self.device = device
        self.widths = np.array([s.width for s in spans], dtype=np.int64)
        self.offsets = (np.cumsum(self.widths) - self.widths).astype(np.int64)
        self.width = int(self.widths.sum())
        self.counts = counts.astype(np.int64)
        widest = int(self.widths.max()) if len(spans) else 1
        self.n_columns = len(spans)
        tables = {}
        for name, weights in (("log", np.log1p(self.counts.astype(float))), ("freq", self.counts.astype(float))):
            cum = np.ones((max(self.n_columns, 1), widest))
            for i in range(self.n_columns):
                w = weights[self.offsets[i] : self.offsets[i] + self.widths[i]]
                cum[i, : len(w)] = _cumulative(w)
            tables[name] = torch.tensor(cum, dtype=torch.float64, device=device)
        self.cum_log, self.cum_freq = tables["log"], tables["freq"]
        self.t_offsets = torch.tensor(self.offsets, dtype=torch.long, device=device)
        self.t_widths = torch.tensor(self.widths, dtype=torch.long, device=device)
        self.t_counts = torch.tensor(self.counts, dtype=torch.long, device=device)
        starts = np.zeros_like(self.counts)
        for i in range(self.n_columns):
            c = self.counts[self.offsets[i] : self.offsets[i] + self.widths[i]]
            starts[self.offsets[i] : self.offsets[i] + self.widths[i]] = np.concatenate([[0], np.cumsum(c)[:-1]])
        self.t_starts = torch.tensor(starts, dtype=torch.long, device=device)
        self.rows: torch.Tensor | None = None
        self.n_rows = 0

    def column_counts(self, i: int) -> np.ndarray:
        return self.counts[self.offsets[i] : self.offsets[i] + self.widths[i]]

    def index_rows(self, data: torch.Tensor, layout: SpanLayout) -> None:
        """Per categorical column, the training rows sorted by category (stable)."""
        import torch

        self.n_rows = data.shape[0]
        if self.n_columns:
            hot = layout.hot(data)  # (rows, columns)
            self.rows = torch.argsort(hot.T, dim=1, stable=True)  # (columns, rows)

    def forget_rows(self) -> None:
        self.rows = None

    def _pick(self, cum: torch.Tensor, widths: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """One category per row from rows of cumulative probabilities ``cum`` (padding at 1)."""
        import torch

        u = 1.0 - torch.rand(widths.shape, generator=gen, device=self.device, dtype=torch.float64)  # (0, 1]
        return torch.minimum((u[:, None] > cum).sum(dim=1), widths - 1)

    def _one_hot(self, column: torch.Tensor, category: torch.Tensor) -> torch.Tensor:
        import torch

        vec = torch.zeros((column.shape[0], self.width), device=self.device)
        if self.width:
            vec[torch.arange(column.shape[0], device=self.device), self.t_offsets[column] + category] = 1.0
        return vec

    def sample_training(
        self, n: int, gen: torch.Generator, log_frequency: bool
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(conditional vectors, column, category within the column, a real row meeting each)."""
        import torch

        if not self.n_columns:
            rows = torch.randint(self.n_rows, (n,), generator=gen, device=self.device)
            empty = torch.zeros(n, dtype=torch.long, device=self.device)
            return self._one_hot(empty, empty), empty, empty, rows
        assert self.rows is not None
        column = torch.randint(self.n_columns, (n,), generator=gen, device=self.device)
        category = self._pick((self.cum_log if log_frequency else self.cum_freq)[column], self.t_widths[column], gen)
        flat = self.t_offsets[column] + category
        count = self.t_counts[flat]
        u = torch.rand((n,), generator=gen, device=self.device, dtype=torch.float64)
        within = torch.minimum((u * count).long(), count - 1)
        rows = self.rows[column, self.t_starts[flat] + within]
        return self._one_hot(column, category), column, category, rows

    def sample_original(self, n: int, gen: torch.Generator, native: tuple[int, np.ndarray] | None) -> torch.Tensor:
        """Conditional vectors as in the data, or among the allowed categories of the native column."""
        import torch

        if not self.n_columns:
            return torch.zeros((n, 0), device=self.device)
        if native is None:
            column = torch.randint(self.n_columns, (n,), generator=gen, device=self.device)
            return self._one_hot(column, self._pick(self.cum_freq[column], self.t_widths[column], gen))
        i, allowed = native
        weights = np.where(allowed, self.column_counts(i), 0).astype(float)
        cum = torch.tensor(_cumulative(weights), dtype=torch.float64, device=self.device)
        column = torch.full((n,), i, dtype=torch.long, device=self.device)
        return self._one_hot(column, self._pick(cum.expand(n, -1), self.t_widths[column], gen))


def _cumulative(weights: np.ndarray) -> np.ndarray:
    """Cumulative probabilities with the last positive entry (and all after it) exactly 1."""
    total = float(weights.sum())
    if total <= 0 or not math.isfinite(total):
        weights, total = np.ones_like(weights), float(len(weights))
    cum = np.cumsum(weights) / total
    cum[int(np.flatnonzero(weights > 0)[-1]) :] = 1.0
    return cum
