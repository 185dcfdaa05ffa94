import pytest
import torch

from imbalance_lab.errors import ConfigError
from imbalance_lab.models import create_model, model_names

# Building these takes seconds on 2 cores (28M and 24M weights initialised).
HEAVY = {"convnext_tiny", "resnet50"}


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in HEAVY else n for n in model_names()]
)
@pytest.mark.parametrize(("num_classes", "channels", "size"), [(2, 3, 32), (10, 1, 28)])
def test_every_model_maps_a_batch_to_one_row_of_class_scores(name, num_classes, channels, size):
    model = create_model(name, num_classes=num_classes, in_channels=channels, image_size=size)
    out = model(torch.randn(5, channels, size, size))
    assert out.shape == (5, num_classes)
    assert torch.isfinite(out).all()


def test_article_convnet_returns_logits_unless_faithful():
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    model = create_model("article-convnet", num_classes=2, faithful=True).eval()
    probs = model(x)
    model.faithful = False  # the same weights and pool, without the article's softmax
    logits = model(x)
    assert torch.allclose(probs, logits.softmax(dim=1), atol=1e-6)
    assert torch.allclose(probs.sum(dim=1), torch.ones(4))


def test_article_convnet_has_the_articles_layers():
    model = create_model("article-convnet", num_classes=2)
    widths = [conv.out_channels for conv in model.convs]
    assert widths == [8, 8, 32, 32, 128, 128]
    assert (
        sum(p.numel() for p in model.parameters()) == 197_898
    )  # counted by hand from the article's layers


def test_majority_model_predicts_the_majority_class():
    model = create_model("majority", num_classes=2).fit(torch.tensor([0, 0, 0, 1]))
    assert model(torch.zeros(3, 3, 32, 32)).argmax(dim=1).tolist() == [0, 0, 0]


def test_unknown_model_suggests_the_closest():
    with pytest.raises(ConfigError, match="did you mean 'article-convnet'"):
        create_model("article-convnt", num_classes=2)
