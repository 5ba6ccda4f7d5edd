"""Conformance driver for LightLLM: the corpus through LightLLM's own glm47 and glm45 parsers.

Run with LightLLM's interpreter (a config's ``launch.venv`` or ``launch.python``:
LightLLM is installed from source or its container image, GPU machines only),
never imported by glmbench: ``python lightllm_driver.py JOB.json``. The parsers
are ``lightllm.server.function_call_parser.FunctionCallParser`` and
``lightllm.server.reasoning_parser.ReasoningParser`` with
``lightllm.server.api_models.Tool``, called as its OpenAI API calls them; see
``_detector_style.py``.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _detector_style import load_tokenizer, run_detector_driver  # noqa: E402
from _driver_common import fatal, package_version, read_job  # noqa: E402


def main() -> None:
    job = read_job()
    try:
        from lightllm.server.api_models import Tool
        from lightllm.server.function_call_parser import FunctionCallParser
        from lightllm.server.reasoning_parser import ReasoningParser
    except Exception as exc:  # noqa: BLE001 - any import failure is the answer
        fatal(f"cannot import LightLLM's parsers: {type(exc).__name__}: {exc}")
        return
    version = package_version("lightllm")
    run_detector_driver("lightllm", version, ReasoningParser, FunctionCallParser, Tool, job,
                        load_tokenizer(job["tokenizer"]))


if __name__ == "__main__":
    main()
