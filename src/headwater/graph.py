"""The flow graph, extracted from the flow's source code without running any step.

Every ``@step`` method becomes a :class:`StepNode`. Its transitions come from the
``self.next(...)`` call that ends its body, read from the syntax tree:

- ``self.next(self.a)``                      linear
- ``self.next(self.a, self.b)``              static split (one task per branch)
- ``self.next(self.a, foreach="items")``     foreach (one task per item)
- ``self.next({"x": self.a, "y": self.b}, condition="attr")``   switch (one branch taken)

A step whose method takes ``(self, inputs)`` is a join. The graph only records what it
finds; :mod:`headwater.lint` decides what is wrong with it, so that ``check`` can report
every problem at once.
"""

from __future__ import annotations

import ast

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any

START, END = "start", "end"


class StepNode:
    """One step of a flow as the source code describes it.

    The graph builder fills the transition fields from the step's final ``self.next(...)``;
    :mod:`headwater.lint` reads them.
    """

    def __init__(self, name: str, file: str, lineno: int, *, doc: str = "", num_args: int = 0,
                 is_start: bool = False, is_end: bool = False,
                 decorators: list[Any] | None = None, wrappers: list[Any] | None = None) -> None:
        self.name = name
        self.file = file
        self.lineno = lineno
        self.doc = doc
        self.num_args = num_args  # positional arguments after ``self``
        # Metaflow's words, by the transition first: start | end | linear | split | foreach |
        # split-switch | join (a join that splits again is split, foreach or split-switch)
        self.type = "linear"
        self.out_funcs: list[str] = []
        self.in_funcs: list[str] = []  # the steps that go to this one
        self.has_tail_next = False
        self.tail_next_lineno = 0
        self.invalid_tail_next = ""  # why the final self.next(...) could not be understood
        self.num_parallel = False  # self.next(..., num_parallel=N) was written
        self.foreach_param: str | None = None
        self.condition: str | None = None
        self.switch_cases: dict[str, str] = {}
        self.switch_bad_keys = False
        self.split_parents: list[str] = []
        self.matching_join: str | None = None
        self.is_start = is_start
        self.is_end = is_end
        self.decorators: list[Any] = decorators or []
        self.wrappers: list[Any] = wrappers or []  # user step decorators, innermost first

    def __repr__(self) -> str:
        return f"StepNode({self.name!r}, type={self.type!r}, out_funcs={self.out_funcs!r})"

    @property
    def is_join(self) -> bool:
        return self.num_args == 1

    @property
    def parallel_step(self) -> bool:
        """Metaflow's flag for a step decorated with ``@parallel`` (a gang of nodes);
        Metaflow's tooling reads ``flow._graph[name].parallel_step``."""
        return any(getattr(d, "name", None) == "parallel" for d in self.decorators)

    @property
    def opens_split(self) -> bool:
        """True when this step's tasks fan out into branches that a join must gather."""
        return (self.foreach_param is not None or self.num_parallel
                or (len(self.out_funcs) > 1 and self.condition is None))

    @property
    def where(self) -> str:
        return f"{self.file}:{self.lineno}"


class FlowGraph:
    """The steps of a flow class, in source order, with their transitions.

    >>> graph = FlowGraph(MyFlow)          # doctest: +SKIP
    >>> graph["start"].out_funcs
    ['train']
    """

    def __init__(self, flow_cls: type) -> None:
        self.name = flow_cls.__name__
        self.nodes: dict[str, StepNode] = {}
        self.doc = cleandoc(flow_cls.__doc__)
        sources = _Sources()
        for func_name, func in _step_functions(flow_cls):
            self.nodes[func_name] = _node_from_function(func_name, func, sources)
        self._mark_start_end()
        self._link()

    # -- access -------------------------------------------------------------------------
    def __getitem__(self, name: str) -> StepNode:
        return self.nodes[name]

    def __contains__(self, name: object) -> bool:
        return name in self.nodes

    def __iter__(self):
        return iter(self.nodes.values())

    def __len__(self) -> int:
        return len(self.nodes)

    @property
    def start(self) -> str | None:
        starts = [n.name for n in self.nodes.values() if n.is_start]
        return starts[0] if len(starts) == 1 else None

    @property
    def end(self) -> str | None:
        ends = [n.name for n in self.nodes.values() if n.is_end]
        return ends[0] if len(ends) == 1 else None

    def sorted_nodes(self) -> list[StepNode]:
        """Steps in execution order: a breadth-first walk from the start step, then orphans."""
        order: list[str] = []
        start = self.start
        queue = [start] if start else []
        while queue:
            name = queue.pop(0)
            if name in order or name not in self.nodes:
                continue
            order.append(name)
            queue.extend(self.nodes[name].out_funcs)
        order += [n for n in self.nodes if n not in order]
        return [self.nodes[n] for n in order]

    # -- construction -------------------------------------------------------------------
    def _mark_start_end(self) -> None:
        flagged_start = [n for n in self.nodes.values() if n.is_start]
        flagged_end = [n for n in self.nodes.values() if n.is_end]
        if not flagged_start and START in self.nodes:
            self.nodes[START].is_start = True
        if not flagged_end and END in self.nodes:
            self.nodes[END].is_end = True
        for node in self.nodes.values():
            node.type = _node_type(node)
            if node.is_start and node.type == "linear":
                node.type = "start"
            if node.is_end:
                node.type = "end"

    def _link(self) -> None:
        for node in self.nodes.values():
            for target in node.out_funcs:
                if target in self.nodes and node.name not in self.nodes[target].in_funcs:
                    self.nodes[target].in_funcs.append(node.name)
        start = self.start
        if start:
            self._traverse(start, [], set())

    def _traverse(self, name: str, split_parents: list[str], seen: set[str]) -> None:
        """Record, for every step, the splits that are open when it runs (as Metaflow does)."""
        node = self.nodes[name]
        if name in seen:
            return
        seen.add(name)
        node.split_parents = list(split_parents)
        children_parents = split_parents
        if node.is_join and split_parents:
            split = self.nodes[split_parents[-1]]
            if split.matching_join is None:
                split.matching_join = name
            children_parents = split_parents[:-1]
        if node.opens_split:
            children_parents = children_parents + [name]
        for target in node.out_funcs:
            if target in self.nodes:
                self._traverse(target, children_parents, seen)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly description (used by the UI, cards and ``show``)."""
        return {
            "name": self.name,
            "doc": self.doc,
            "steps": [
                {
                    "name": n.name,
                    "type": n.type,
                    "doc": n.doc,
                    "next": n.out_funcs,
                    "foreach": n.foreach_param,
                    "condition": n.condition,
                    "line": n.lineno,
                }
                for n in self.sorted_nodes()
            ],
        }

    def output_dot(self) -> str:
        """The graph in Graphviz DOT."""
        lines = [f'digraph "{self.name}" {{', "  rankdir=TB;", "  node [shape=box, style=rounded];"]
        for node in self.sorted_nodes():
            label = node.name
            if node.foreach_param:
                label += f"\\nforeach {node.foreach_param}"
            if node.condition:
                label += f"\\nswitch on {node.condition}"
            lines.append(f'  "{node.name}" [label="{label}"];')
            for target in node.out_funcs:
                edge = ""
                for key, step in node.switch_cases.items():
                    if step == target:
                        edge = f' [label="{key}"]'
                lines.append(f'  "{node.name}" -> "{target}"{edge};')
        lines.append("}")
        return "\n".join(lines) + "\n"


# -- source reading ---------------------------------------------------------------------


def _step_functions(flow_cls: type) -> list[tuple[str, Any]]:
    """Step methods of the class and its bases, in source order, subclasses first."""
    seen: dict[str, Any] = {}
    for klass in flow_cls.__mro__:
        for attr, value in vars(klass).items():
            if attr not in seen and callable(value) and getattr(value, "is_step", False):
                seen[attr] = value
    return sorted(seen.items(), key=lambda kv: (kv[1].__code__.co_filename, kv[1].__code__.co_firstlineno))


def cleandoc(doc: str | None) -> str:
    """A docstring without its indentation and surrounding blank lines (as ``help()`` shows it)."""
    if not doc:
        return ""
    lines = doc.expandtabs().splitlines()
    indents = [len(line) - len(line.lstrip()) for line in lines[1:] if line.strip()]
    margin = min(indents, default=0)
    lines = [lines[0].strip()] + [line[margin:].rstrip() for line in lines[1:]]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


class _Sources:
    """Function definitions by (file, first line), parsing each source file once.

    One parse of the whole file is cheaper than ``inspect.getsource`` per step, and keeps
    the line numbers the user sees in their editor.
    """

    def __init__(self) -> None:
        self._defs: dict[str, dict[int, ast.FunctionDef | ast.AsyncFunctionDef]] = {}

    def find(self, code: Any) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        filename = code.co_filename
        if filename not in self._defs:
            self._defs[filename] = self._index(filename)
        return self._defs[filename].get(code.co_firstlineno)

    @staticmethod
    def _index(filename: str) -> dict[int, ast.FunctionDef | ast.AsyncFunctionDef]:
        try:
            with open(filename, encoding="utf-8") as f:
                text = f.read()
        except OSError:
            import linecache  # notebooks register their cells' source there

            text = "".join(linecache.getlines(filename))
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError):
            return {}
        out = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                # A function's code starts at its first decorator line, else at its def line.
                first = min([d.lineno for d in node.decorator_list] + [node.lineno])
                out[first] = node
        return out


def _node_from_function(name: str, func: Any, sources: _Sources) -> StepNode:
    code = func.__code__
    node = StepNode(
        name=name,
        file=code.co_filename,
        lineno=code.co_firstlineno,
        doc=cleandoc(func.__doc__),
        num_args=code.co_argcount - 1,
        is_start=bool(getattr(func, "step_flags", {}).get("start")),
        is_end=bool(getattr(func, "step_flags", {}).get("end")),
        decorators=list(getattr(func, "decorators", [])),
        wrappers=list(getattr(func, "wrappers", [])),
    )
    fdef = sources.find(code)
    if fdef is None:
        node.invalid_tail_next = "the source of this step could not be read"
        return node
    # The def line, not the first decorator line, is what a user looks for.
    node.lineno = fdef.lineno
    body = [stmt for stmt in fdef.body if not _is_docstring(stmt)]
    if not body:
        return node
    tail = body[-1]
    call = tail.value if isinstance(tail, ast.Expr) else None
    if not (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr == "next"
        and isinstance(call.func.value, ast.Name)
        and call.func.value.id == "self"
    ):
        return node
    node.has_tail_next = True
    node.tail_next_lineno = tail.lineno
    _read_next_call(node, call)
    return node


def _is_docstring(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, str)
    )


def _self_attr(expr: ast.expr) -> str | None:
    if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name) and expr.value.id == "self":
        return expr.attr
    return None


def _read_next_call(node: StepNode, call: ast.Call) -> None:
    keywords = {kw.arg: kw.value for kw in call.keywords}
    unknown = [k for k in keywords if k not in ("foreach", "condition", "num_parallel")]
    if unknown:
        node.invalid_tail_next = f"self.next() got an unknown keyword argument {unknown[0]!r}"
        return
    node.num_parallel = "num_parallel" in keywords
    if not call.args:
        node.invalid_tail_next = "self.next() needs at least one target step, e.g. self.next(self.end)"
        return
    if isinstance(call.args[0], ast.Dict):
        _read_switch(node, call, keywords)
        return
    targets = []
    for arg in call.args:
        attr = _self_attr(arg)
        if attr is None:
            node.invalid_tail_next = (
                f"self.next() arguments must be steps written as self.<step>, not {ast.unparse(arg)!r}"
            )
            return
        targets.append(attr)
    node.out_funcs = targets
    if "condition" in keywords:
        node.invalid_tail_next = "condition= goes with a dict of cases: self.next({'a': self.a, 'b': self.b}, condition='attr')"
        return
    if "foreach" in keywords:
        value = keywords["foreach"]
        if not (isinstance(value, ast.Constant) and isinstance(value.value, str)):
            node.invalid_tail_next = "foreach= must be the name of an artifact as a string literal, e.g. foreach='items'"
            return
        node.foreach_param = value.value
        if len(targets) != 1:
            node.invalid_tail_next = "a foreach goes to exactly one step: self.next(self.body, foreach='items')"
            return


def _read_switch(node: StepNode, call: ast.Call, keywords: dict[str | None, ast.expr]) -> None:
    cases: dict[str, str] = {}
    mapping = call.args[0]
    assert isinstance(mapping, ast.Dict)
    for key, value in zip(mapping.keys, mapping.values, strict=True):
        attr = _self_attr(value)
        if attr is None:
            node.invalid_tail_next = "each case of a conditional self.next() must map to a step written as self.<step>"
            return
        if not (isinstance(key, ast.Constant) and isinstance(key.value, str | int | bool)):
            node.switch_bad_keys = True
            continue
        cases[str(key.value)] = attr
    if len(call.args) > 1:
        node.invalid_tail_next = "a conditional self.next() takes one dict of cases and condition='attr'"
        return
    cond = keywords.get("condition")
    if cond is None:
        node.invalid_tail_next = "a dict of cases needs condition='<artifact name>' to choose between them"
        return
    if not (isinstance(cond, ast.Constant) and isinstance(cond.value, str)):
        node.invalid_tail_next = "condition= must be the name of an artifact as a string literal"
        return
    node.condition = cond.value
    node.switch_cases = cases
    node.out_funcs = list(dict.fromkeys(cases.values()))


def _node_type(node: StepNode) -> str:
    """Metaflow's type of a step (before start and end are marked)."""
    if node.condition is not None:
        return "split-switch"
    if node.foreach_param is not None or node.num_parallel:
        return "foreach"
    if len(node.out_funcs) > 1:
        return "split"
    return "join" if node.is_join else "linear"
