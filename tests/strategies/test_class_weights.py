import pytest

from imbalance_lab.errors import ConfigError
from imbalance_lab.strategies import parse_class_weights


def test_article_weights_parse():
    assert parse_class_weights("0.15,0.85", 2) == (0.15, 0.85)
    assert parse_class_weights([0, 1], 2) == (0.0, 1.0)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-0.1,1", ">= 0"),
        ("nan,1", "finite"),
        ("inf,1", "finite"),
        ("0.5", "one weight per class \\(2\\), got 1"),
        ("0.2,0.3,0.5", "one weight per class \\(2\\), got 3"),
        ("0,0", "cannot all be zero"),
        ("a,b", "numbers separated by commas"),
    ],
)
def test_bad_weights_get_one_line_errors(value, message):
    with pytest.raises(ConfigError, match=message) as info:
        parse_class_weights(value, 2)
    assert "\n" not in str(info.value)
