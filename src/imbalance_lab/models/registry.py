"""Model registry: one name answers the lookup, the CLI choices and the test list."""

from __future__ import annotations

from dataclasses import replace

from torch import nn

from imbalance_lab.errors import ConfigError, closest
from imbalance_lab.models.factory import (
    build_from_factory,
    check_factory_reference,
    import_factory,
    is_factory_reference,
)
from imbalance_lab.models.heads import resolve_head
from imbalance_lab.models.spec import (
    ARTICLE_MEAN,
    ARTICLE_STD,
    InputSpec,
    ModelSpec,
    attach_spec,
    conventional_head,
    spec_of,
)
from imbalance_lab.registry import Registry

# factory(num_classes=, in_channels=, image_size=, faithful=, **its own params) -> nn.Module;
# a factory may attach a ModelSpec (model.model_spec); otherwise create_model attaches one
# with the article's normalisation, which every model of this project was trained with.
MODELS = Registry("model")
register_model = MODELS.register
model_names = MODELS.names


def parse_model_name(value) -> str:
    """``--model``: a registered name, or ``package.module:function`` (checked for spelling
    only: it is imported when the model is built, before anything is written)."""
    name = str(value)
    if is_factory_reference(name):
        return check_factory_reference(name)
    if name not in MODELS:
        raise ConfigError(
            f"--model {name!r} is neither a registered model{closest(name, MODELS.names())} "
            f"({', '.join(MODELS.names())}) nor a package.module:function"
        )
    return name


def create_model(
    name: str,
    *,
    num_classes: int,
    in_channels: int = 3,
    image_size: int = 32,
    faithful: bool = False,
    **params,
) -> nn.Module:
    """A registered model, or a user's ``package.module:factory``, with ``model.model_spec`` set.

    ``params`` are run parameters by name; a registered model receives those its entry
    declares (others are ignored, so a caller may pass all it has), each at its default
    when absent. A ``head`` of "auto" becomes the head the run's ``loss`` expects
    (models/heads.py: cosine for LDAM), linear when no loss is given; the spec records
    the values used, so a saved model is rebuilt with them.
    """
    if is_factory_reference(name):
        model = build_from_factory(
            name, import_factory(name), num_classes=num_classes, in_channels=in_channels,
            image_size=image_size,
        )  # fmt: skip
        own = spec_of(model, in_channels, image_size)
        return attach_spec(model, replace(own, name=name, source="factory"))
    entry = MODELS.entry(name)
    values = {
        p.name: p.coerce(params[p.name]) if params.get(p.name) is not None else p.default
        for p in entry.params
    }
    if values.get("head") == "auto":
        values["head"] = resolve_head("auto", str(params.get("loss") or ""))
    model = entry.obj(
        num_classes=num_classes, in_channels=in_channels, image_size=image_size,
        faithful=faithful, **values,
    )  # fmt: skip
    if not isinstance(getattr(model, "model_spec", None), ModelSpec):
        inp = InputSpec.uniform(in_channels, image_size, ARTICLE_MEAN, ARTICLE_STD)
        spec = ModelSpec(name, "registry", inp, params=values, head=conventional_head(model))
        attach_spec(model, spec)
    return model
