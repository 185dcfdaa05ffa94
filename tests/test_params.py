"""Every run parameter is spoken the same way by every command that trains.

For each parameter and each such command, setting it once as a flag and once as a TOML
key must give the same resolved config (what config.json holds), and that config must
hold the value that was set.
"""

from __future__ import annotations

import json

import pytest

from imbalance_lab.config import params
from imbalance_lab.params import GROUPS, Param
from tests.test_cli import run_cli

COMMANDS = [
    ["train"],
    ["compare"],
    ["sweep"],
    ["reproduce", "article"],
    ["benchmark", "cifar10-lt"],
]
# Settings that make every example valid together: a calibration split (for --objective)
# and an augmentation (for --jitter, --cutout); dropped when they are the parameter tested.
BASE = {"val": "0.2", "augment": "all"}
# What an example needs beside it to be a valid config (cv:K replaces the calibration split).
NEEDS = {
    "step": {"model": "glmc-resnet32"},
    "calibration": {"objective": "recall>=0.9"},
    "fold": {"calibration": "cv:5", "objective": "recall>=0.9"},
    "repeat": {"calibration": "cv:5x2", "cv-model": "matched", "fold": "0",
               "objective": "recall>=0.9"},
}  # fmt: skip
REPLACES = {"calibration": ("val",), "fold": ("val",), "repeat": ("val",)}


def _toml_literal(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_literal(v) for v in value) + "]"
    return repr(value)


def _flag_args(p: Param, example: str) -> list[str]:
    if p.is_bool:
        on = p.coerce(example)
        return [p.flag if on else f"--no-{p.flag[2:]}"]
    return [p.flag, example]


def _resolved(command: list[str], args: list[str], capsys) -> dict:
    code, out, err = run_cli([*command, *args, "--print-config"], capsys)
    assert code == 0, err
    return json.loads(out)


def test_every_parameter_has_a_usable_declaration():
    names = [p.name for p in params()]
    assert len(names) == len(set(names))
    for p in params():
        assert p.group in GROUPS and p.help and "\n" not in p.help
        assert p.example is not None, f"{p.name} needs an example value"
        assert p.coerce(p.example) != p.default, f"{p.name}'s example is its default"


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
@pytest.mark.parametrize("p", params(), ids=lambda p: p.name)
def test_a_parameter_as_flag_and_as_toml_key_resolves_the_same(command, p, tmp_path, capsys):
    base = {
        k: v
        for k, v in {**BASE, **NEEDS.get(p.name, {})}.items()
        if k != p.name and k not in REPLACES.get(p.name, ())
    }
    base_args = [a for k, v in base.items() for a in (f"--{k}", v)]
    by_flag = _resolved(command, base_args + _flag_args(p, p.example), capsys)
    toml = tmp_path / "run.toml"
    toml.write_text(f"{p.name} = {_toml_literal(p.dump(p.coerce(p.example)))}\n")
    by_file = _resolved(command, base_args + ["--config", str(toml)], capsys)
    assert by_flag == by_file
    assert by_flag[p.name] == p.dump(p.coerce(p.example))


def test_precedence_is_command_default_then_preset_then_file_then_flags(tmp_path, capsys):
    toml = tmp_path / "run.toml"
    toml.write_text("epochs = 5\nlr = 0.01\n")
    assert _resolved(["compare"], [], capsys)["val"] == 0.2  # compare's own default
    preset = _resolved(["compare"], ["--preset", "article"], capsys)
    assert (preset["epochs"], preset["objective"]) == (10, "recall>=0.9")
    from_file = _resolved(["compare"], ["--preset", "article", "--config", str(toml)], capsys)
    assert (from_file["epochs"], from_file["lr"], from_file["objective"]) == (
        5,
        0.01,
        "recall>=0.9",
    )
    flags = ["--preset", "article", "--config", str(toml), "--epochs", "7"]
    assert _resolved(["compare"], flags, capsys)["epochs"] == 7


def test_a_preset_schedule_scales_with_the_epochs_given(capsys):
    full = _resolved(["compare"], ["--preset", "cifar10-lt"], capsys)
    short = _resolved(["compare"], ["--preset", "cifar10-lt", "--epochs", "20"], capsys)
    assert (full["epochs"], full["warmup_epochs"]) == (200, 5.0)
    assert (short["epochs"], short["warmup_epochs"]) == (20, 0.5)


def test_help_names_a_command_default_and_why(capsys):
    _, out, _ = run_cli(["compare", "--help"], capsys)
    text = " ".join(out.split())
    assert "This command's default: 0.2, because compare chooses" in text


@pytest.mark.parametrize(
    "args, message",
    [
        (["--epochs", "0"], "--epochs must be >= 1, got '0'"),
        (["--ema", "1.5"], "--ema must be in (0, 1), got '1.5'"),
        (["--loss", "focl"], "--loss must be one of weighted-ce,"),
        (["--faithful", "--sampler", "upsample"], "--faithful replays the article's single"),
        (["--gamma", "x"], "--gamma must be a number, got 'x'"),
    ],
)
def test_a_bad_value_gets_one_line_naming_the_flag(args, message, capsys):
    code, _, err = run_cli(["train", *args, "--print-config"], capsys)
    assert code == 2
    assert err.count("\n") == 1 and message in err


def test_a_bad_toml_value_names_the_file(tmp_path, capsys):
    toml = tmp_path / "run.toml"
    toml.write_text("tau = 'high'\n")
    code, _, err = run_cli(["train", "--config", str(toml), "--print-config"], capsys)
    assert code == 2
    assert f"tau in {toml} must be a number, got 'high'" in err
