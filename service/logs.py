"""The service's log: plain text lines by default, one JSON object a line with
`--log-format json` (python-json-logger), for log collectors.

What is logged, each one line: every decision the service gives (time, request id, decision
id, effect, endpoint, latency, policy version: never the person's id or any free text from
the request), every policy reload, every restart of the audit writer, and every decision
withheld because the audit trail could not be written. Structured fields are passed as
`extra`, which the JSON lines carry as keys and the text lines leave out.
"""

from __future__ import annotations

import logging
import re
import sys
import uuid
from typing import IO, Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from igengine import Decision
from service.settings import SettingsError

FORMATS = ("text", "json")
LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
_TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# The standard record attributes a JSON line keeps, renamed to what log collectors expect.
_JSON = "%(levelname)s %(name)s %(message)s"
_RENAMED = {"levelname": "level", "name": "logger"}

decisions_log = logging.getLogger("igengine.service.decisions")

# A caller's X-Request-ID is logged only when it looks like an identifier: the log must not
# carry free text (or a person's details) that a caller put there.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


# uvicorn adds a copy of its message with terminal colour codes; a JSON line leaves it out.
_LEFT_OUT = [*RESERVED_ATTRS, "color_message"]


def formatter(log_format: str) -> logging.Formatter:
    """The formatter for `log_format` ('text' or 'json'); SettingsError for any other."""
    if log_format == "json":
        return JsonFormatter(
            _JSON, rename_fields=_RENAMED, timestamp="time", reserved_attrs=_LEFT_OUT
        )
    if log_format == "text":
        return logging.Formatter(_TEXT)
    raise SettingsError(
        f"IGENGINE_LOG_FORMAT / --log-format: '{log_format}' is not one of: " + ", ".join(FORMATS)
    )


def configure(log_format: str, level: str, stream: IO[str] | None = None) -> None:
    """Send igengine's log lines to `stream` (stderr) in `log_format`, at `level` (uvicorn's
    names). SettingsError names an unknown format or level."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(log_format))
    logger = logging.getLogger("igengine")
    logger.handlers = [handler]
    logger.setLevel(_level(level))
    # One line per event: not again through the root logger's handlers.
    logger.propagate = False


def _level(name: str) -> int:
    if name.lower() not in LEVELS:
        raise SettingsError(f"--log-level: '{name}' is not one of: " + ", ".join(LEVELS))
    # uvicorn's "trace" is below debug; the service has nothing finer than debug.
    return logging.DEBUG if name.lower() == "trace" else logging.getLevelName(name.upper())


def uvicorn_config(log_format: str) -> dict[str, Any] | None:
    """uvicorn's logging configuration for `log_format`: None for text (keep uvicorn's own);
    for json, its lines too are JSON objects, so a collector reads one format."""
    if log_format != "json":
        return None
    json_formatter = {
        "()": "pythonjsonlogger.json.JsonFormatter",
        "fmt": _JSON,
        "rename_fields": _RENAMED,
        "timestamp": "time",
        "reserved_attrs": _LEFT_OUT,
    }
    handler = {"formatter": "json", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": json_formatter},
        "handlers": {"default": handler},
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": ["default"], "level": "INFO", "propagate": False},
        },
    }


def request_id(header: str | None) -> str:
    """The caller's X-Request-ID if it is an identifier, else a new one."""
    if header is not None and _REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def logging_decisions() -> bool:
    """Whether decisions are logged (at the configured level)."""
    return decisions_log.isEnabledFor(logging.INFO)


def decision_given(
    decision: Decision, *, endpoint: str, seconds: float, request: str | None
) -> None:
    """Log one decision given out (nothing of the request but which endpoint it came to)."""
    if not logging_decisions():
        return
    effect = "what_if" if decision.what_if else decision.effect.value
    latency = round(seconds * 1000, 3)
    ident = request_id(request)
    decisions_log.info(
        "decision %s: %s at %s in %.1f ms (policy %s, request %s)",
        decision.decision_id,
        effect,
        endpoint,
        latency,
        decision.policy_version,
        ident,
        extra={
            "event": "decision",
            "request_id": ident,
            "decision_id": decision.decision_id,
            "effect": effect,
            "endpoint": endpoint,
            "latency_ms": latency,
            "policy_version": decision.policy_version,
        },
    )
