"""The tables of docs/model.md that restate the spec, rendered from it: the requirement gaps
(section 2.7), the outputs (section 3) and the events (section 4).

Each sits in docs/model.md between ``<!-- spec:NAME -->`` and ``<!-- /spec:NAME -->``; the text
between the markers is generated, the prose around it is not. After editing spec.py:

    python -m simcore.model.doc_tables [docs/model.md]

rewrites those blocks in place; a test fails while they differ from the spec.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from . import spec

DOCS = Path(__file__).resolve().parents[2] / "docs" / "model.md"


def requirement_gaps() -> str:
    width = max(len(r.name) for r in spec.REQUIREMENT_SPECS)
    lines = [f"{r.name:<{width}} = {r.gap}" for r in spec.REQUIREMENT_SPECS]
    return "\n".join(["```", *lines, "```"])


def outputs_table() -> str:
    rows = ["| output | equation | unit |", "|---|---|---|"]
    for output in spec.OUTPUT_SPECS:
        name = f"`{output.name}`" + (" (per profile)" if output.per_profile else "")
        rows.append(f"| {name} | {output.equation} | {output.unit} |")
    return "\n".join(rows)


def _condition_text(event: spec.Event) -> str:
    requirements = [c for c in event.conditions if isinstance(c, str)]
    parts = []
    if requirements == list(spec.REQUIREMENTS):
        parts.append(f"the {len(requirements)} requirement gaps of 2.7 ≤ 0")
    elif requirements:
        parts.append("gaps ≤ 0: " + ", ".join(f"`{r}`" for r in requirements))
    for condition in event.conditions:
        if isinstance(condition, str):
            continue
        output = spec.OUTPUT_BY_NAME[condition.output]
        series = output.name + ("_P" if output.per_profile else "")
        if isinstance(condition.bound, str):
            parts.append(f"`{series} ≤ {condition.bound}`")
        else:
            parts.append(f"`{series} ≤` {condition.bound_text or condition.bound} {output.unit}")
    return " and ".join(parts)


def events_table() -> str:
    rows = ["| event | condition, all at once | per profile | binding code |", "|---|---|---|---|"]
    for event in spec.EVENT_SPECS:
        binding = f"`{event.binding}`" if event.binding else "–"
        rows.append(f"| `{event.name}` | {_condition_text(event)} | "
                    f"{'yes' if spec.per_profile(event) else 'no'} | {binding} |")
    return "\n".join(rows)


BLOCKS = {"requirements": requirement_gaps, "outputs": outputs_table, "events": events_table}


def render(text: str) -> str:
    """``text`` with every generated block replaced by its rendering from the spec."""
    for name, block in BLOCKS.items():
        pattern = re.compile(rf"(<!-- spec:{name} -->\n)(?:.*?\n)?(<!-- /spec:{name} -->)", re.S)
        match = pattern.search(text)
        if not match:
            raise ValueError(f"no <!-- spec:{name} --> ... <!-- /spec:{name} --> block")
        text = text[:match.end(1)] + block() + "\n" + text[match.start(2):]
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, nargs="?", default=DOCS)
    path = parser.parse_args(argv).path
    before = path.read_text(encoding="utf-8")
    after = render(before)
    if after != before:
        path.write_text(after, encoding="utf-8")
    print(f"{path}: {'rewritten' if after != before else 'already up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
