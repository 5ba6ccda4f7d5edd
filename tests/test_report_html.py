"""The HTML report: one self-contained file, server text escaped, and rendered by a real headless Chromium."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import run_cli

pytest.importorskip("pandas", reason="reports need pandas: pip install pandas matplotlib")
pytest.importorskip("matplotlib", reason="reports need matplotlib: pip install pandas matplotlib")
pytestmark = pytest.mark.e2e

HOSTILE = "<script>alert(1)</script>"
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict[str, Path]:
    """A sim run, a copy whose manifest and summary carry hostile text, a hostile BFCL run, and their report."""
    root = tmp_path_factory.mktemp("html")
    config = root / "sim-fast.yaml"
    config.write_text("sim:\n  ttft_ms: 20\n  itl_ms: 2\n  max_running: 64\n")
    res = run_cli("run", "--backend", "sim", "--workload", "burst,steady", "--num-prompts", "8", "--dataset", "random",
                  "--input-len", "16", "--output-len", "8", "--sim-config", str(config),
                  "--results-dir", str(root / "results"), timeout=180)
    assert res.returncode == 0, res.stderr
    (clean,) = [p for p in (root / "results").iterdir() if p.is_dir()]
    hostile = root / "hostile-run"
    shutil.copytree(clean, hostile)
    manifest = json.loads((hostile / "manifest.json").read_text())
    manifest["backend"]["model"] = HOSTILE
    manifest["backend"]["command"] = ["serve", HOSTILE, "--flag=<b>x</b>"]
    (hostile / "manifest.json").write_text(json.dumps(manifest))
    summary = json.loads((hostile / "summary.json").read_text())
    summary["rows"][0].update(failed=1, errors={HOSTILE: 1})
    (hostile / "summary.json").write_text(json.dumps(summary))

    bfcl = root / "hostile-bfcl"
    bfcl.mkdir()
    (bfcl / "manifest.json").write_text(json.dumps({**manifest, "kind": "bfcl"}))
    rows = [{"category": "simple", "accuracy": 50.0, "correct": 1, "total": 2, "note": HOSTILE},
            {"category": "OVERALL", "accuracy": 50.0, "correct": 1, "total": 2, "note": None}]
    (bfcl / "summary.json").write_text(json.dumps({"schema_version": 1, "run_id": "hostile-bfcl", "kind": "bfcl",
                                                   "mode": "native", "style": "lightllm",
                                                   "tables": {"lightllm": rows}}))
    out = root / "report.html"
    res = run_cli("report", str(clean), str(hostile), str(bfcl), "--out", str(out), "--plots", str(root / "plots"))
    assert res.returncode == 0, res.stderr
    return {"html": out, "plots": root / "plots", "clean": clean, "hostile": hostile}


def test_html_is_one_self_contained_file(report):
    html = report["html"].read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
    assert "<link" not in html and "<script" not in html.lower() and "@import" not in html
    assert html.count("data:image/svg+xml;base64,") >= 4  # CDFs, throughput/latency, BFCL, timelines
    assert "Output (tok/s)" in html and "BFCL accuracy per category" in html


def test_text_from_servers_is_escaped(report):
    html = report["html"].read_text()
    assert HOSTILE not in html and "<b>x</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.count("&lt;script&gt;") >= 3  # model, command, error reason, BFCL note


def test_plot_files_are_png_and_svg(report):
    names = {p.name for p in report["plots"].iterdir()}
    for stem in ("ttft_cdf", "e2e_cdf", "throughput_latency", "bfcl_accuracy", "timeline_1"):
        assert {f"{stem}.png", f"{stem}.svg"} <= names, stem
    assert (report["plots"] / "ttft_cdf.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]
    return subprocess.run([str(CHROMIUM), *flags, *args], capture_output=True, text=True, timeout=120)


def test_report_renders_in_headless_chromium(report, tmp_path):
    if not CHROMIUM.exists():
        if os.environ.get("GLMBENCH_REQUIRE_BROWSER") == "1":
            pytest.fail("no /usr/bin/chromium (GLMBENCH_REQUIRE_BROWSER=1): apt-get install chromium")
        pytest.skip("no /usr/bin/chromium (apt-get install chromium; .ci/run does)")
    url = report["html"].resolve().as_uri()
    shot = tmp_path / "shot.png"
    res = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", url)
    assert shot.is_file() and shot.stat().st_size > 10_000, res.stderr[-2000:]
    try:
        from PIL import Image
    except ImportError:
        pass
    else:
        with Image.open(shot) as img:
            colors = img.convert("L").getcolors(maxcolors=1 << 16)
        assert colors is None or len(colors) > 20, "the screenshot is blank"

    dom = _chromium(tmp_path, "--dump-dom", url).stdout
    assert "Output (tok/s)" in dom and report["clean"].name in dom and "OVERALL" in dom
    assert "<script>" not in dom.lower()  # the hostile text stayed text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
    assert dom.count("<img") >= 4
