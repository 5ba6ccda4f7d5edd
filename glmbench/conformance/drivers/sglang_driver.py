"""Conformance driver for SGLang: the corpus through SGLang's own glm47 FunctionCallParser and glm45 ReasoningParser.

Run with SGLang's interpreter (a config's ``launch.venv``), never imported by
glmbench: ``python sglang_driver.py JOB.json``. The parsers are
``sglang.srt.function_call.function_call_parser.FunctionCallParser`` and
``sglang.srt.parser.reasoning_parser.ReasoningParser`` (``sglang.srt.reasoning_parser``
in older releases), called as SGLang's chat serving calls them; see
``_detector_style.py``. Importing any of them runs ``sglang/__init__.py``, which
imports torch and triton (``sglang.srt.utils.common``): an environment without
them answers ``fatal`` with the import error.
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
        from sglang.srt.entrypoints.openai.protocol import ChatCompletionRequest, Tool
        from sglang.srt.function_call.function_call_parser import FunctionCallParser
        try:
            from sglang.srt.parser.reasoning_parser import ReasoningParser
        except ImportError:
            from sglang.srt.reasoning_parser import ReasoningParser
    except Exception as exc:  # noqa: BLE001 - any import failure is the answer
        fatal(f"cannot import SGLang's parsers: {type(exc).__name__}: {exc}")
        return
    version = package_version("sglang")

    def request_of(case: dict):
        kwargs = {} if case["thinking"] else {"enable_thinking": False}
        return ChatCompletionRequest(model="glm", messages=[{"role": "user", "content": "conformance"}],
                                     tools=case["tools"] or None, chat_template_kwargs=kwargs)

    run_detector_driver("sglang", version, ReasoningParser, FunctionCallParser, Tool, job,
                        load_tokenizer(job["tokenizer"]), request_of)


if __name__ == "__main__":
    main()
