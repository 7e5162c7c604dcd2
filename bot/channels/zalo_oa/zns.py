"""ZNS templates by notice kind, from a YAML file (CSKH_ZALO_ZNS_TEMPLATES), not code.

Zalo approves each template with its parameters; the file says which template a notice
kind goes out as, and how each parameter is filled from the delivery:

    bill_issued:
      template_id: "301234"
      data:
        customer_code: "{customer_code}"
        amount: "{amount}"
        due_date: "{due_date}"
    outage_planned:
      template_id: "301240"
      data: {customer_code: "{customer_code}", message: "{text:200}"}

A value is a text with {name} fields (`{name:N}` keeps the first N characters). Names:
customer_code, text (the notice as the chat would have shown it, on one line), date
(today, dd/mm/yyyy), delivery_id, the notice's own fields (bill_id, outage_id...), and for
a bill notice amount, kwh, period (mm/yyyy), due_date. A name the delivery has no value
for is a template error, recorded on the delivery.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

_FIELD = re.compile(r"\{([a-z_][a-z0-9_]*)(?::(\d+))?\}")
# ZNS refuses a parameter past its template's length; 400 is the largest any allows.
MAX_VALUE = 400


class TemplateError(ValueError):
    """The YAML is wrong, or a template's data cannot be filled for this delivery."""


@dataclass(frozen=True)
class Template:
    template_id: str
    data: dict[str, str]

    def fill(self, values: dict[str, Any]) -> dict[str, str]:
        filled: dict[str, str] = {}
        for name, pattern in self.data.items():

            def one(match: re.Match[str], name: str = name) -> str:
                key, width = match.group(1), match.group(2)
                if values.get(key) in (None, ""):
                    raise TemplateError(
                        f"template {self.template_id}: no value for {{{key}}} ({name})"
                    )
                value = " ".join(str(values[key]).split())
                return value[: int(width)] if width else value

            filled[name] = _FIELD.sub(one, pattern)[:MAX_VALUE]
        return filled


def load_templates(path: Path) -> dict[str, Template]:
    """The templates by notice kind; TemplateError names what is wrong in the file."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise TemplateError(f"{path}: {error}") from error
    if not isinstance(raw, dict):
        raise TemplateError(f"{path}: expected a mapping of notice kinds")
    templates: dict[str, Template] = {}
    for kind, entry in raw.items():
        if not isinstance(entry, dict) or not entry.get("template_id"):
            raise TemplateError(f"{path}: {kind}: needs a template_id")
        data = entry.get("data") or {}
        if not isinstance(data, dict) or not all(isinstance(v, str | int) for v in data.values()):
            raise TemplateError(f"{path}: {kind}: data must map parameters to texts")
        templates[str(kind)] = Template(
            str(entry["template_id"]), {str(k): str(v) for k, v in data.items()}
        )
    return templates
