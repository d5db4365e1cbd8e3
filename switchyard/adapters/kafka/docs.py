"""The examples in docs/events.md: one message per event type, from the example scenario.

They sit between two markers in the page; `update_examples` rewrites what lies
between them and leaves the rest of the page alone. Each example is the first
message of its type in the scenario (`adapters.kafka.examples`), made stable.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from switchyard.adapters.kafka.event_schemas import AGGREGATES, EventType, event_types
from switchyard.adapters.kafka.examples import Message, scenario, stable

BEGIN = "<!-- BEGIN GENERATED EXAMPLES (switchyard events examples) -->"
"""The line before the generated examples."""

END = "<!-- END GENERATED EXAMPLES -->"
"""The line after the generated examples."""


def examples_markdown() -> str:
    """The examples' Markdown, from a fresh run of the scenario."""
    return render_examples(event_types(), stable(scenario()))


def render_examples(types: Sequence[EventType], messages: Sequence[Message]) -> str:
    """Per aggregate, each event type's first message, in the order the scenario met them."""
    first: dict[str, Message] = {}
    for message in messages:
        first.setdefault(message.type, message)
    missing = [t.ce_type for t in types if t.ce_type not in first]
    if missing:
        raise ValueError(f"the example scenario records no {', '.join(missing)}")
    met = list(first)
    sections = []
    for aggregate in AGGREGATES:
        own = [t for t in types if t.aggregate is aggregate]
        own.sort(key=lambda t: met.index(t.ce_type))
        sections.append(f"### {aggregate.__name__}\n")
        sections.extend(_example(t, first[t.ce_type]) for t in own)
    return "\n".join(sections)


def _example(event_type: EventType, message: Message) -> str:
    schema = f"{event_type.ce_type}.json"
    headers = "\n".join(f"{name}: {value}" for name, value in message.headers.items())
    value = json.dumps(message.value, indent=2, ensure_ascii=False)
    return (
        f"#### `{event_type.ce_type}`\n\n"
        f"{event_type.meaning} Schema: [{schema}](schemas/{schema}).\n\n"
        f"```text\nkey: {message.key}\n{headers}\n```\n\n"
        f"```json\n{value}\n```\n"
    )


def replace_examples(page: str, examples: str) -> str:
    """The page with `examples` between its markers instead of what was there."""
    before, begin, rest = page.partition(BEGIN)
    _, end, after = rest.partition(END)
    if not begin or not end:
        raise ValueError(f"the page lacks the markers {BEGIN!r} and {END!r}")
    return f"{before}{BEGIN}\n\n{examples}\n{END}{after}"


def update_examples(page: Path) -> bool:
    """Rewrite the page's examples from a fresh run; whether anything changed."""
    text = page.read_text(encoding="utf-8")
    updated = replace_examples(text, examples_markdown())
    if updated != text:
        page.write_text(updated, encoding="utf-8")
    return updated != text
