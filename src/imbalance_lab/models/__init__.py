"""Models, looked up by name: ``create_model("article-convnet", num_classes=2)``."""

from imbalance_lab.models import convnet, mock, resnet  # noqa: F401  (fill the registry)

from imbalance_lab.models import backbones  # noqa: F401  # isort: skip  (listed after the project's own)
from imbalance_lab.models.convnet import ArticleConvNet
from imbalance_lab.models.mock import MajorityClassifier
from imbalance_lab.models.registry import create_model, model_names, register_model
from imbalance_lab.models.resnet import CifarResNet
from imbalance_lab.models.spec import InputSpec, ModelSpec, spec_of

__all__ = [
    "ArticleConvNet",
    "CifarResNet",
    "InputSpec",
    "MajorityClassifier",
    "ModelSpec",
    "create_model",
    "model_names",
    "register_model",
    "spec_of",
]
