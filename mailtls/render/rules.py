"""``mailtls rules``: the catalogue of finding ids with summary and fix, and the grading rule.

``mailtls rules`` lists every rule (one line each), ``mailtls rules ID`` explains one (a prefix
such as ``cert.`` lists that family), ``--format json`` gives the whole catalogue to programs.
"""

from __future__ import annotations

import json
import textwrap
from typing import Any

from mailtls.checks.rules import RULES, Rule
from mailtls.errors import UsageError
from mailtls.render.summary import GRADE_RULE, GRADE_SCHEME

__all__ = ["render_rule", "render_rules_json", "render_rules_text", "select_rules"]


def select_rules(ids: list[str] | tuple[str, ...]) -> list[Rule]:
    """The rules ``ids`` name, exactly or as a prefix (``cert.``, ``tls.version``)."""
    if not ids:
        return list(RULES.values())
    out: list[Rule] = []
    for wanted in ids:
        exact = RULES.get(wanted)
        found = [exact] if exact else [r for r in RULES.values()
                                       if r.id.startswith(wanted.rstrip(".") + ".")]
        if not found:
            close = [r.id for r in RULES.values() if wanted.lower() in r.id][:5]
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise UsageError(f"no rule {wanted!r}{hint}; `mailtls rules` lists them")
        out += [r for r in found if r not in out]
    return out


def rule_dict(r: Rule) -> dict[str, Any]:
    return {
        "id": r.id,
        "severity": r.severity.label,
        "summary": r.title,
        "reference": r.reference,
        "requirement": r.requirement,
        "fix": r.remediation,
    }


def render_rules_json(rules: list[Rule]) -> str:
    doc = {
        "schema": "mailtls-rules/1",
        "grade_scheme": GRADE_SCHEME,
        "grade_rule": GRADE_RULE,
        "rules": [rule_dict(r) for r in rules],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def render_rule(r: Rule, width: int = 80) -> str:
    """One rule explained: id, severity, summary, reference, fix, wrapped to ``width``."""
    wrap = textwrap.TextWrapper(width=width, initial_indent="  ", subsequent_indent="  ")
    lines = [f"{r.id} ({r.severity.label}{', ' + r.requirement if r.requirement else ''})",
             wrap.fill(r.title), wrap.fill(f"reference: {r.reference}"),
             wrap.fill(f"fix: {r.remediation}")]
    return "\n".join(lines) + "\n"


def render_rules_text(rules: list[Rule], *, explain: bool, width: int = 80) -> str:
    if explain:
        return "\n".join(render_rule(r, width) for r in rules)
    idw = max(len(r.id) for r in rules)
    wrap = textwrap.TextWrapper(width=max(width, idw + 30), subsequent_indent=" " * (idw + 10))
    lines = [wrap.fill(f"{r.id:{idw}}  {r.severity.label:7}  {r.title} ({r.reference})")
             for r in rules]
    return "\n".join(lines) + "\n\n" + GRADE_RULE + \
        "`mailtls rules ID` explains one rule with its fix.\n"
