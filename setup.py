"""Build hook: the runtime dependencies, with durable-rules made to work on Python 3.13.

durable-rules 2.0.28 (its latest release) calls `PyEval_CallObject`, which Python 3.13 removed:
built as published, its module compiles but fails to import (`undefined symbol`). Its C source
compiles correctly with that name defined as `PyObject_CallObject` (the same call, kept by
Python). A dependency's compiler flags cannot be set from here, so on 3.13 and later this hook
builds durable-rules' own published source once, with that definition, into a wheel under
`build/durable-rules/`, and names that wheel as the dependency. On 3.11 and 3.12 nothing changes.
The rest of the project's metadata is in pyproject.toml.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from setuptools import setup

DURABLE_RULES = "durable-rules==2.0.28"
# The only change the 3.13 build needs: the removed function's name stands for its replacement.
DURABLE_RULES_DEFINE = "-DPyEval_CallObject=PyObject_CallObject"
WHEEL_DIR = Path(__file__).resolve().parent / "build" / "durable-rules"

# The library and the `igengine` command (check, decide, explain, test, diff, lint, audit).
DEPENDENCIES = [
    "pydantic>=2.6",
    "PyYAML>=6.0",
    "typer>=0.12",
    "rich>=13",
    "cryptography>=42",
    # Feature files are parsed with Cucumber's own parser (igengine/scenarios/source.py).
    "gherkin-official>=29",
    # FHIR Consent records (igengine/fhir.py reads them with the R4B models, R4's Consent).
    "fhir.resources>=8,<9",
]


def built_durable_rules() -> Path:
    """durable-rules' wheel for this interpreter, built with the 3.13 definition (once)."""
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    found = sorted(WHEEL_DIR.glob(f"durable_rules-2.0.28-{tag}-*.whl"))
    if found:
        return found[0]
    env = dict(os.environ)
    env["CPPFLAGS"] = f"{env.get('CPPFLAGS', '')} {DURABLE_RULES_DEFINE}".strip()
    # The ordinary client, with the caller's own pip settings (index, constraints) inherited.
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-binary", "durable-rules"]
    command += ["--no-cache-dir", "-w", str(WHEEL_DIR), DURABLE_RULES]
    subprocess.run(command, env=env, check=True, stdout=sys.stderr)
    found = sorted(WHEEL_DIR.glob(f"durable_rules-2.0.28-{tag}-*.whl"))
    if not found:
        raise RuntimeError(f"building {DURABLE_RULES} for Python 3.13 left no wheel in {WHEEL_DIR}")
    return found[0]


def durable_rules_requirement() -> str:
    """The published durable-rules before 3.13; from 3.13 on, the wheel built above."""
    if sys.version_info < (3, 13):
        return DURABLE_RULES
    return f"durable-rules @ {built_durable_rules().as_uri()}"


setup(install_requires=[*DEPENDENCIES, durable_rules_requirement()])
