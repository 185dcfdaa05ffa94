"""The HTML report: sections per kind of results folder, escaping, and a real browser."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageStat

from imbalance_lab.cli import main
from imbalance_lab.errors import OutputError
from imbalance_lab.reports.html import write_html_report
from imbalance_lab.rundir import SAMPLES, RunFolder
from tests.conftest import make_image_folder
from tests.test_cli import run_cli

CHROMIUM = Path("/usr/bin/chromium")
ODD_CLASS = "<b>x"  # a folder name cannot hold the "/" of "</b>"; an open tag is just as telling


def cli(args, tmp_path_factory) -> None:
    """``run_cli`` for module-scoped fixtures (no capsys there), with the tests' isolated cache."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("IMBALANCE_LAB_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
        mp.setenv("IMBALANCE_LAB_THREADS", "2")
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            assert exc.code in (0, None), f"{args[0]} exited with {exc.code}"


def save_samples(run: Path, data: Path, classes: list[str], per_class: int = 3) -> None:
    """samples.npz as the trainer writes it: the first test images of each class, from disk."""
    files = [(label, path) for label, name in enumerate(classes)
             for path in sorted((data / "test" / name).iterdir())[:per_class]]  # fmt: skip
    images = np.stack([np.asarray(Image.open(path).convert("RGB")) for _, path in files])
    labels = np.array([label for label, _ in files])
    RunFolder(run).write_samples(images.transpose(0, 3, 1, 2), labels)


@pytest.fixture(scope="module")
def train_run(tiny_folder, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("train") / "run"
    cli(["train", "--data", tiny_folder, "--classes", "cat,dog", "--ratio", "4", "--epochs", "2",
         "--out", out, "--quiet"], tmp_path_factory)  # fmt: skip
    save_samples(out, tiny_folder, ["cat", "dog"])
    return out


@pytest.fixture(scope="module")
def odd_run(tmp_path_factory) -> Path:
    """One epoch on a folder whose class name is HTML, written to a folder whose name is too."""
    root = tmp_path_factory.mktemp("odd")
    data = make_image_folder(
        root / "data", {"train": {ODD_CLASS: 16, "other": 16}, "test": {ODD_CLASS: 4, "other": 4}}
    )
    out = root / 'run & "<i>y'
    cli(["train", "--data", data, "--classes", f"{ODD_CLASS},other", "--epochs", "1",
         "--out", out, "--quiet"], tmp_path_factory)  # fmt: skip
    save_samples(out, data, [ODD_CLASS, "other"])
    return out


def page_of(folder: Path) -> str:
    path = write_html_report(folder)
    assert path == folder / "report.html"
    return path.read_text()


def assert_self_contained(page: str) -> None:
    urls = re.findall(r"""\b(?:src|href)\s*=\s*["']?([^"'\s>]*)""", page)
    assert urls, "the page has no image"
    outside = [u[:60] for u in urls if not u.startswith(("data:", "#"))]
    assert not outside, f"URLs that leave the page: {outside}"
    assert "url(" not in page and "<script" not in page and "<link" not in page


def headings(page: str) -> list[str]:
    return [html.unescape(h) for h in re.findall(r"<h[2-4]>(.*?)</h[2-4]>", page)]


def test_report_of_a_train_run(train_run):
    page = page_of(train_run)
    assert_self_contained(page)
    for title in ("Final metrics", "Configuration", "Data", "Sample images", "Metric curves",
                  "Precision-recall curve", "Confusion matrices"):  # fmt: skip
        assert title in headings(page)
    assert page.count('src="data:image/png;base64,') == 5  # counts, samples, curves, PR, CM
    assert "No sample images were saved" not in page
    assert "<td>cat</td>" in page and "article-convnet" in page


@pytest.mark.slow
def test_report_of_a_reproduce_run(tiny_folder, tmp_path, capsys):
    out = tmp_path / "article"
    code, _, err = run_cli(["reproduce", "article", "--data", tiny_folder, "--out", out,
                            "--epochs", "1", "--quiet"], capsys)  # fmt: skip
    assert code == 0, err
    save_samples(out / "corrected" / "cnn-4to1" / "seed-0", tiny_folder, ["cat", "dog"])
    page = page_of(out)
    assert_self_contained(page)
    for title in ("Results", "Comparison with the article", "What it shows",
                  "Faithful vs corrected: what differs and why", "Configuration",
                  "How the runs differ from it", "Data", "Training counts per run",
                  "Sample images", "Metric curves", "Precision-recall curves",
                  "Confusion matrices"):  # fmt: skip
        assert title in headings(page)
    assert "<th>article (final epoch)</th>" in page and "train accuracy 0.80" in page
    assert "<td>ConvNet on 4:1 data</td>" in page  # the article's label, from article.json
    assert "<strong>Softmax fed into <code>CrossEntropyLoss</code>.</strong>" in page
    # Both plots of plots/ are in, and the page adds counts, samples, PR curves, matrices.
    assert len(list((out / "plots").glob("*.png"))) == 2
    assert page.count('src="data:image/png;base64,') == 6
    assert 'href="data:text/csv;base64,' in page


@pytest.mark.slow
def test_report_of_a_compare_run(tiny_folder, tmp_path, capsys):
    out = tmp_path / "compare"
    code, _, err = run_cli(["compare", "--data", tiny_folder, "--classes", "cat,dog", "--ratio", "4",
                            "--objective", "max-f1", "--strategies", "baseline,class-weights",
                            "--seeds", "1", "--epochs", "1", "--out", out, "--quiet"], capsys)  # fmt: skip
    assert code == 0, err
    save_samples(out / "baseline" / "seed-0", tiny_folder, ["cat", "dog"])
    page = page_of(out)
    assert_self_contained(page)
    for title in ("Strategy table", "Configuration", "Strategies", "Data", "Sample images",
                  "Metric curves", "Precision-recall curves", "Confusion matrices"):  # fmt: skip
        assert title in headings(page)
    assert "<td>class-weights</td>" in page and "weight_scheme = balanced" in page
    assert "Objective: <code>max-f1</code>" in page
    assert page.count('src="data:image/png;base64,') == 5  # 3 from plots/, counts, samples
    assert 'href="data:text/csv;base64,' in page


@pytest.mark.slow
def test_report_of_a_sweep(tiny_folder, tmp_path, capsys):
    out = tmp_path / "sweep"
    code, stdout, err = run_cli(["sweep", "--data", tiny_folder, "--classes", "cat,dog", "--ratio", "4",
                                 "--objective", "max-f1", "--trials", "2", "--epochs", "1",
                                 "--out", out, "--quiet"], capsys)  # fmt: skip
    assert code == 0, err
    best = json.loads((out / "best.json").read_text())
    save_samples(out / best["run"], tiny_folder, ["cat", "dog"])
    page = page_of(out)
    assert_self_contained(page)
    for title in ("Summary", "Best setting", "Trials", "Configuration", "How the runs differ from it",
                  "Data", "Sample images", "Metric curves", "Confusion matrices"):  # fmt: skip
        assert title in headings(page)
    assert "<td>COMPLETE</td>" in page and "class_weights = " in page
    assert f"<td>{best['run']}/model.pt</td>" in page
    # counts, samples, the best run's curves, history, trade-off, PR, confusion matrices
    assert page.count('src="data:image/png;base64,') == 7


def test_class_names_and_paths_are_escaped(odd_run):
    page = page_of(odd_run)
    assert "&lt;b&gt;x" in page and "<b>x" not in page
    assert "&lt;i&gt;y" in page and "<i>y" not in page
    assert 'run & "' not in page  # the folder's name, in the title, heading and code
    title = re.search(r"<title>(.*?)</title>", page).group(1)
    assert html.unescape(title) == 'Training run: run & "<i>y'
    assert_self_contained(page)


def test_the_report_reads_only_the_run_folder(train_run, tmp_path):
    # The data folder is gone: the page still shows everything, sample images included.
    moved = shutil.copytree(train_run, tmp_path / "moved")
    result = json.loads((moved / "result.json").read_text())
    result["config"]["data"] = str(tmp_path / "gone")
    (moved / "result.json").write_text(json.dumps(result))
    page = page_of(moved)
    assert page.count('src="data:image/png;base64,') == 5
    assert "No sample images were saved" not in page


def test_a_run_without_sample_images_says_so(train_run, tmp_path):
    run = shutil.copytree(train_run, tmp_path / "run")
    (run / SAMPLES).unlink()
    page = page_of(run)
    assert "No sample images were saved with this run" in page
    assert page.count('src="data:image/png;base64,') == 4
    assert "Metric curves" in headings(page)


def test_a_study_folder_from_before_its_report_files_is_refused_in_one_line(tmp_path):
    (tmp_path / "study.json").write_text('{"study": "compare", "strategies": [], "seeds": [0]}')
    with pytest.raises(OutputError, match=r"compare\.json; rerun the command that wrote"):
        write_html_report(tmp_path)
    assert not (tmp_path / "report.html").exists()


@pytest.mark.parametrize(
    "files, message",
    [
        ({}, "is not a results folder: a results folder must hold study.json"),
        ({"notes.txt": "hello"}, "or result.json (written by `train`)"),
        ({"study.json": "{not json"}, "cannot read"),
        ({"study.json": '{"study": "grid"}'}, "names study 'grid', not article, compare or sweep"),
    ],
)
def test_unknown_layouts_are_refused_in_one_line(tmp_path, files, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(OutputError, match=re.escape(message)) as info:
        write_html_report(tmp_path)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "report.html").exists()


# --- a real browser --------------------------------------------------------------------------

# Runs before the page is parsed: records errors and console errors, then on `load` writes what
# it saw into the DOM, which --dump-dom prints.
CHECK_SCRIPT = """<script>
(() => {
  const errors = [];
  addEventListener("error", e => errors.push(e.message || "failed to load " + (e.target.alt || e.target.tagName)), true);
  for (const level of ["error", "warn"]) {
    const original = console[level];
    console[level] = (...args) => { errors.push(args.join(" ")); original(...args); };
  }
  addEventListener("load", () => {
    const images = [...document.images];
    const result = {
      images: images.length,
      broken: images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt),
      bold: document.querySelectorAll("b, i").length,
      text: document.body.innerText,
      errors,
    };
    const pre = document.createElement("pre");
    pre.id = "report-check";
    pre.textContent = JSON.stringify(result);
    document.body.append(pre);
    console.log("report-check-done");
  });
})();
</script>"""

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--hide-scrollbars"]  # fmt: skip


def chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no browser at {CHROMIUM} (.ci/install-browser.sh installs it)")  # fmt: skip
def test_the_report_renders_in_chromium(odd_run, tmp_path):
    report = write_html_report(odd_run)
    checked = tmp_path / "checked.html"
    checked.write_text(report.read_text().replace("<head>", "<head>" + CHECK_SCRIPT, 1))

    run = chromium(["--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000",
                    "--dump-dom", checked.as_uri()], tmp_path / "profile")  # fmt: skip
    found = re.search(r'<pre id="report-check">(.*?)</pre>', run.stdout, re.S)
    assert found, f"chromium printed no check result (rc {run.returncode}): {run.stderr[-2000:]}"
    result = json.loads(html.unescape(found.group(1)))
    assert result["images"] == 5 and result["broken"] == [], result["broken"]
    assert result["errors"] == []
    assert ODD_CLASS in result["text"] and "<i>y" in result["text"]
    assert result["bold"] == 0  # the names became text, not elements
    console = [line for line in run.stderr.splitlines() if ":CONSOLE" in line]
    assert any("report-check-done" in line for line in console), "console capture did not work"
    assert [line for line in console if "report-check-done" not in line] == []
    assert "Uncaught" not in run.stderr

    shot = tmp_path / "report.png"
    run = chromium([f"--screenshot={shot}", "--window-size=1200,3000", report.as_uri()],
                   tmp_path / "profile")  # fmt: skip
    assert shot.exists(), run.stderr[-2000:]
    assert shot.stat().st_size > 20_000
    with Image.open(shot) as image:
        assert image.size == (1200, 3000)
        assert ImageStat.Stat(image.convert("L")).stddev[0] > 10  # not a blank page
