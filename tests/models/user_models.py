"""Source of the user model modules the factory and model-file tests import from a temporary folder."""

NETS = """
from torch import nn

CALLS = []


class SmallNet(nn.Module):
    def __init__(self, num_classes, in_channels=3):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.head = nn.Linear(8, num_classes)

    def forward(self, x):
        return self.head(self.features(x))


def small_net(num_classes, in_channels=3, image_size=32):
    CALLS.append((num_classes, in_channels, image_size))
    return SmallNet(num_classes, in_channels)


def only_classes(num_classes):
    CALLS.append((num_classes,))
    return SmallNet(num_classes)


def not_a_model(num_classes):
    return "a model"


def broken(num_classes):
    raise RuntimeError("boom")
"""

# Importing this module is the harm a model file must never cause: it leaves a marker file.
MARKER = """
from pathlib import Path

Path(__file__).with_name("IMPORTED").write_text("a model file ran code")


def make(num_classes):
    raise AssertionError("never called")
"""


def install(folder, monkeypatch, name: str, source: str) -> None:
    """Write module ``name`` into ``folder`` and make it importable for this test only."""
    import importlib
    import sys

    (folder / f"{name}.py").write_text(source)
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, name, raising=False)
    importlib.invalidate_caches()
