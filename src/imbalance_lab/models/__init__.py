"""Models, looked up by name: ``create_model("article-convnet", num_classes=2)``."""

from imbalance_lab.models import convnet, glmc, mock, resnet  # noqa: F401  (fill the registry)

from imbalance_lab.models import backbones  # noqa: F401  # isort: skip  (listed after the project's own)
from imbalance_lab.models.convnet import ArticleConvNet
from imbalance_lab.models.glmc import GLMCNet, GLMCOutputs
from imbalance_lab.models.heads import CosineClassifier, resolve_head
from imbalance_lab.models.mock import MajorityClassifier
from imbalance_lab.models.registry import create_model, model_names, register_model
from imbalance_lab.models.resnet import CifarResNet
from imbalance_lab.models.spec import InputSpec, ModelSpec, spec_of

__all__ = [
    "ArticleConvNet",
    "CifarResNet",
    "CosineClassifier",
    "GLMCNet",
    "GLMCOutputs",
    "InputSpec",
    "MajorityClassifier",
    "ModelSpec",
    "create_model",
    "model_names",
    "register_model",
    "resolve_head",
    "spec_of",
]
