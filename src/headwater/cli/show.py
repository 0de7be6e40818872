"""``python flow.py show``: the flow as text."""

from __future__ import annotations

import textwrap

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any


def show_graph(graph: Any) -> str:
    lines = [graph.name]
    if graph.doc:
        lines += [textwrap.indent(graph.doc, "  "), ""]
    for node in graph.sorted_nodes():
        lines.append(f"Step {node.name}  ({node.type}, line {node.lineno})")
        if node.doc:
            lines.append(textwrap.indent(node.doc, "    "))
        if node.switch_cases:
            cases = ", ".join(f"{k!r} -> {v}" for k, v in node.switch_cases.items())
            lines.append(f"    => switch on {node.condition}: {cases}")
        elif node.foreach_param:
            lines.append(f"    => foreach {node.foreach_param}: {node.out_funcs[0]}")
        elif node.out_funcs:
            lines.append(f"    => {', '.join(node.out_funcs)}")
        decos = [repr(d) for d in node.decorators]
        if decos:
            lines.append(f"    decorators: {' '.join(decos)}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
