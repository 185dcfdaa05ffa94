"""Named imbalance strategies: each is a set of RunConfig changes.

One registry answers the lookup by name, the choices of ``compare --strategies``
and the list the tests run over. ``docs/strategies.md`` says when each helps.
"""

from __future__ import annotations

from dataclasses import dataclass

from imbalance_lab.errors import ConfigError, closest
from imbalance_lab.registry import Registry


@dataclass(frozen=True)
class Strategy:
    name: str  # the name used by compare --strategies and in result tables
    summary: str  # one line: what it does
    changes: dict  # RunConfig fields it sets (the model, budget and seeds stay the same)


STRATEGIES = Registry("strategy")


def register_strategy(name: str, summary: str, **changes) -> Strategy:
    return STRATEGIES.add(name, Strategy(name, summary, changes), summary)


register_strategy("baseline", "plain cross-entropy on the imbalanced data")
register_strategy(
    "downsample", "drop random majority images down to the minority count", sampler="downsample"
)
register_strategy(
    "upsample", "repeat random minority images up to the majority count; crop+flip the copies",
    sampler="upsample", augment="copies",
)  # fmt: skip
register_strategy(
    "class-weights", "cross-entropy weighted n / (C n_c) ('balanced')", weight_scheme="balanced"
)
register_strategy(
    "effective-number", "class weights from the effective number of samples (Cui et al. 2019)",
    weight_scheme="effective-number",
)  # fmt: skip
register_strategy(
    "weighted-sampler", "draw class-balanced batches afresh every epoch", sampler="weighted-sampler"
)
register_strategy("focal", "focal loss, --gamma (Lin et al. 2017)", loss="focal")
register_strategy(
    "logit-adjusted", "logit-adjusted loss, --tau (Menon et al. 2021)", loss="logit-adjusted"
)
register_strategy("balanced-softmax", "balanced softmax (Ren et al. 2020)", loss="balanced-softmax")
register_strategy(
    "ldam-drw", "LDAM margins, deferred re-weighting from 80 % of the epochs (Cao et al. 2019)",
    loss="ldam", drw_at=0.8,
)  # fmt: skip
register_strategy(
    "glmc", "GLMC: global and local mixture consistency, cumulative re-balancing (Du et al. 2023)",
    model="glmc-resnet32", step="glmc",
)  # fmt: skip
register_strategy(
    "logit-adjusted-cutmix-ta",
    "logit-adjusted loss, cutmix and TrivialAugment (Menon 2021; Yun 2019; Müller & Hutter 2021)",
    loss="logit-adjusted", mix="cutmix", auto_augment="trivialaugment",
)  # fmt: skip
register_strategy(
    "cb-focal",
    "class-balanced sigmoid focal loss, effective-number weights (Cui et al. 2019)",
    loss="cb-focal",
)


def strategy_names() -> list[str]:
    return STRATEGIES.names()


def parse_strategies(text: str) -> list[Strategy]:
    """``all`` or a comma-separated list of names."""
    if text.strip() == "all":
        return [e.obj for e in STRATEGIES.entries()]
    chosen = []
    for name in (part.strip() for part in text.split(",")):
        if name not in STRATEGIES:
            raise ConfigError(
                f"unknown strategy {name!r}{closest(name, strategy_names())}; "
                f"choose 'all' or from: {', '.join(strategy_names())}"
            )
        if name in (s.name for s in chosen):
            raise ConfigError(f"strategy {name!r} is given twice")
        chosen.append(STRATEGIES.get(name))
    return chosen
