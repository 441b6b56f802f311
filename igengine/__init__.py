"""igengine: can I share this? Explained, recorded answers from data-sharing agreements.

from igengine import Engine
engine = Engine.from_directory("policies")
decision = engine.decide({...})
"""

from igengine.decision import Decision
from igengine.engine import AuditSink, Engine
from igengine.policy.errors import PolicyError, PolicyIssue
from igengine.request import Request, RequestError

__all__ = [
    "AuditSink",
    "Decision",
    "Engine",
    "PolicyError",
    "PolicyIssue",
    "Request",
    "RequestError",
]
