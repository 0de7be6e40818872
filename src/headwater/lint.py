"""Lint rules: what makes a flow graph invalid, and how to fix it.

:class:`~headwater.graph.FlowGraph` records what the source says; this module judges it.
Each rule is a small generator registered with :func:`rule`. :func:`lint` runs them all and
returns every :class:`Finding`, so ``check`` reports all problems at once, not the first.

Rules come in two tiers:

- step rules look at steps and their direct transitions, and always run;
- shape rules (``@rule(shape=True)``) look at the whole graph: reachability and split/join
  balance. They run only once the graph is a readable DAG (one start, one end, every
  ``self.next`` understood, every target known, no loop), so one typo is reported once
  and not again as an "unreachable step" or "unjoined split" knock-on.

As in Metaflow, the only loop allowed is a conditional step that goes back to itself.

Rule ids: reserved-name, invalid-name, missing-start, missing-end, multiple-start,
multiple-end, ambiguous-start, ambiguous-end, start-is-join, start-has-incoming,
end-has-next, end-is-join, too-many-arguments, missing-self, join-and-split, missing-next,
invalid-next, unknown-transition, switch-keys, switch-cases, empty-foreach,
switch-into-join, cycle, orphan, join-without-split, cross-join, join-mismatch,
missing-inputs, unjoined-split.
"""

from __future__ import annotations

import re
from collections import namedtuple
from collections.abc import Callable, Iterable, Iterator

from .exceptions import LintError
from .graph import END, START, FlowGraph, StepNode

# Attributes of FlowSpec that a step of the same name would hide.
RESERVED_NAMES = frozenset(
    {"name", "next", "input", "index", "cmd", "foreach_stack", "merge_artifacts", "script_name"}
)
_VALID_NAME = re.compile(r"[a-z][a-z0-9_]*")
_NEXT_FORMS = (
    "self.next(self.a), self.next(self.a, self.b), self.next(self.a, foreach='items') "
    "or self.next({'x': self.a, 'y': self.b}, condition='attr')"
)


class Finding(namedtuple("Finding", "rule message file lineno step", defaults=(None, None, None))):
    """One problem in a flow: which rule, what to do about it, and where (file, lineno, step)."""

    __slots__ = ()

    def __str__(self) -> str:
        if self.file and self.lineno:
            return f"{self.file}:{self.lineno}: {self.message}"
        if self.file:
            return f"{self.file}: {self.message}"
        return self.message


Check = Callable[[FlowGraph], Iterator[Finding]]
_CHECKS: list[tuple[Check, bool]] = []


def rule(*, shape: bool = False) -> Callable[[Check], Check]:
    """Register a check; ``shape=True`` runs it only on a readable DAG (see module doc)."""

    def register(func: Check) -> Check:
        _CHECKS.append((func, shape))
        return func

    return register


def lint(graph: FlowGraph) -> list[Finding]:
    """Every finding of every rule, step rules first, each in source order."""
    readable = _is_readable_dag(graph)
    findings: list[Finding] = []
    for check_func, shape in _CHECKS:
        if readable or not shape:
            findings.extend(check_func(graph))
    return findings


def check(graph: FlowGraph) -> None:
    """Raise :class:`~headwater.exceptions.LintError` listing all findings, if any."""
    findings = lint(graph)
    if findings:
        raise LintError(findings)


# -- helpers ------------------------------------------------------------------------------


def _at_def(rule_id: str, node: StepNode, message: str) -> Finding:
    return Finding(rule_id, message, node.file, node.lineno, node.name)


def _at_next(rule_id: str, node: StepNode, message: str) -> Finding:
    return Finding(rule_id, message, node.file, node.tail_next_lineno or node.lineno, node.name)


def _names(names: Iterable[str]) -> str:
    return ", ".join(names)


def _edges(node: StepNode) -> list[str]:
    """Transitions to follow: none out of the end step (reported by ``end-has-next``), and
    not the self-loop a conditional step may have."""
    if node.is_end:
        return []
    return [t for t in node.out_funcs if not (t == node.name and node.condition is not None)]


def _ancestors(graph: FlowGraph, name: str) -> set[str]:
    seen: set[str] = set()
    todo = list(graph[name].in_funcs)
    while todo:
        parent = todo.pop()
        if parent not in seen:
            seen.add(parent)
            todo.extend(graph[parent].in_funcs)
    return seen


def _loops(graph: FlowGraph) -> list[list[str]]:
    """Each loop once, as a path whose last step repeats its first."""
    on_path: list[str] = []
    done: set[str] = set()
    loops: list[list[str]] = []

    def visit(name: str) -> None:
        on_path.append(name)
        for target in _edges(graph[name]):
            if target in on_path:
                loops.append(on_path[on_path.index(target) :] + [target])
            elif target in graph and target not in done:
                visit(target)
        on_path.pop()
        done.add(name)

    for node in graph.sorted_nodes():
        if node.name not in done:
            visit(node.name)
    return loops


def _is_readable_dag(graph: FlowGraph) -> bool:
    return (
        graph.start is not None
        and graph.end is not None
        and all(
            node.is_end
            or (node.has_tail_next and not node.invalid_tail_next and not node.switch_bad_keys)
            for node in graph
        )
        and all(target in graph for node in graph for target in node.out_funcs)
        and not _loops(graph)
    )


Stack = tuple[tuple[str, str], ...]  # (split step, branch taken) per open split, outermost first


class _SplitWalk:
    """Which splits are open while each step runs, from a walk from the start step.

    A split step (static or foreach) opens a frame for the branch its child starts; a join
    closes the innermost one; a conditional step opens none, since only one case runs.
    Steps missing from ``stacks`` are not reachable from the start step.
    """

    def __init__(self, graph: FlowGraph) -> None:
        self.graph = graph
        self.stacks: dict[str, Stack] = {}
        if graph.start:
            self._visit(graph.start, ())

    def _visit(self, name: str, stack: Stack) -> None:
        if name in self.stacks:
            return
        node = self.graph[name]
        self.stacks[name] = stack[:-1] if node.is_join else stack
        for target in _edges(node):
            self._visit(target, self.leaving(name, target))

    def leaving(self, name: str, target: str) -> Stack:
        stack = self.stacks[name]
        return stack + ((name, target),) if self.graph[name].opens_split else stack

    def arriving(self, name: str) -> dict[str, Stack]:
        """The stack each reachable parent hands to step ``name``."""
        return {
            parent: self.leaving(parent, name)
            for parent in self.graph[name].in_funcs
            if parent in self.stacks and parent != name
        }


def _merges_without_inputs(graph: FlowGraph, walk: _SplitWalk) -> Iterator[tuple[StepNode, str]]:
    """Steps without ``inputs`` that parallel branches reach, with the split they came from."""
    for node in graph:
        if node.is_join or node.is_end or node.name not in walk.stacks:
            continue
        stacks = list(walk.arriving(node.name).values())
        if len(set(stacks)) > 1:
            # The innermost split under which the arriving branches still agree.
            depth = next(i for i in range(max(map(len, stacks)))
                         if len({s[: i + 1] for s in stacks}) > 1)
            yield node, next(s[depth][0] for s in stacks if len(s) > depth)


# -- step rules ---------------------------------------------------------------------------


@rule()
def step_names(graph: FlowGraph) -> Iterator[Finding]:
    for node in graph:
        if node.name in RESERVED_NAMES:
            yield _at_def("reserved-name", node, (
                f"Step '{node.name}' uses a name reserved by FlowSpec; rename it, "
                f"e.g. '{node.name}_step', and update the self.next() calls that go to it."))
        elif not _VALID_NAME.fullmatch(node.name):
            snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", node.name).lower()
            hint = re.sub(r"[^a-z0-9_]+", "_", snake).strip("_")
            suggestion = f", e.g. '{hint}'" if _VALID_NAME.fullmatch(hint) else ""
            yield _at_def("invalid-name", node, (
                f"Step '{node.name}' has an invalid name: step names start with a lowercase "
                f"letter and use only lowercase letters, digits and underscores. "
                f"Rename it{suggestion}."))


@rule()
def one_start_and_one_end(graph: FlowGraph) -> Iterator[Finding]:
    nodes = list(graph)
    for role in (START, END):
        marked = [n for n in nodes if (n.is_start if role == START else n.is_end)]
        if not marked:
            # Point at the first step for a missing start, at the last for a missing end.
            where = (nodes[0] if role == START else nodes[-1]) if nodes else None
            yield Finding(
                f"missing-{role}",
                f"The flow has no {role} step. Name a step '{role}' or mark one with "
                f"@step({role}=True).",
                where.file if where else None, where.lineno if where else None)
        elif len(marked) > 1:
            yield _at_def(f"multiple-{role}", marked[1], (
                f"Steps {_names(n.name for n in marked)} are all marked @step({role}=True), "
                f"but a flow has exactly one {role} step. Keep {role}=True on one of them."))
        elif marked[0].name != role and role in graph:
            yield _at_def(f"ambiguous-{role}", graph[role], (
                f"Step '{marked[0].name}' is marked @step({role}=True) but step '{role}' "
                f"also exists, so the {role} of the flow is ambiguous. Rename '{role}' "
                f"or remove {role}=True from '{marked[0].name}'."))


@rule()
def start_step(graph: FlowGraph) -> Iterator[Finding]:
    if graph.start is None:
        return
    node = graph[graph.start]
    if node.is_join:
        yield _at_def("start-is-join", node, (
            f"The start step '{node.name}' takes an 'inputs' argument, but nothing runs before "
            f"it. Define it as def {node.name}(self)."))
    for parent in node.in_funcs:
        if graph[parent].is_end:
            continue  # reported by end-has-next
        fix = "move the loop to a later step" if parent == node.name else (
            f"point the self.next() of '{parent}' at another step")
        yield _at_next("start-has-incoming", graph[parent], (
            f"Step '{parent}' goes to the start step '{node.name}', but nothing may run before "
            f"the start step: {fix}."))


@rule()
def end_step(graph: FlowGraph) -> Iterator[Finding]:
    if graph.end is None:
        return
    node = graph[graph.end]
    if node.has_tail_next:
        yield _at_next("end-has-next", node, (
            f"The end step '{node.name}' calls self.next(), but the run finishes there. "
            f"Remove that self.next() line."))
    if node.is_join:
        yield _at_def("end-is-join", node, (
            f"The end step '{node.name}' takes an 'inputs' argument, but the end step cannot be "
            f"a join. Add a join step def join(self, inputs) before it and define it as "
            f"def {node.name}(self)."))


@rule()
def step_arguments(graph: FlowGraph) -> Iterator[Finding]:
    for node in graph:
        if node.num_args > 1:
            yield _at_def("too-many-arguments", node, (
                f"Step '{node.name}' takes {node.num_args} arguments besides self; a step takes "
                f"only self, or self and inputs for a join. Remove the extra arguments."))
        elif node.num_args < 0:
            yield _at_def("missing-self", node, (
                f"Step '{node.name}' does not take self. Define it as def {node.name}(self)."))


@rule()
def joins_do_not_split(graph: FlowGraph) -> Iterator[Finding]:
    for node in graph:
        if node.is_join and not node.is_end and (node.opens_split or node.condition is not None):
            yield _at_next("join-and-split", node, (
                f"Step '{node.name}' takes inputs (a join) and also branches in its self.next(); "
                f"a step cannot do both. End '{node.name}' with self.next(self.<new_step>) and "
                f"branch from that new step."))


@rule()
def steps_end_with_next(graph: FlowGraph) -> Iterator[Finding]:
    for node in graph:
        if not (node.is_end or node.has_tail_next or node.invalid_tail_next):
            yield _at_def("missing-next", node, (
                f"Step '{node.name}' does not end with a self.next() call, so nothing says what "
                f"runs after it. Add self.next(self.<step>) as the last line of '{node.name}'."))


@rule()
def gangs(graph: FlowGraph) -> Iterator[Finding]:
    """``num_parallel=`` leads to a ``@parallel`` step, and only it does."""
    for node in graph:
        if node.num_parallel:
            for target in node.out_funcs:
                if target in graph and not graph[target].parallel_step:
                    yield _at_next("num-parallel", node, (
                        f"Step '{node.name}' starts a gang of {target!r} with num_parallel=, but "
                        f"'{target}' is not a @parallel step. Add @parallel above @step on '{target}', "
                        "or use a foreach for independent tasks."))
    for node in graph:
        if node.parallel_step and not any(graph[p].num_parallel for p in node.in_funcs if p in graph):
            yield _at_def("parallel-without-num", node, (
                f"Step '{node.name}' is @parallel, so the step before it must say how many nodes: "
                f"self.next(self.{node.name}, num_parallel=N)."))


@rule()
def next_is_readable(graph: FlowGraph) -> Iterator[Finding]:
    for node in graph:
        if node.invalid_tail_next and not (node.is_end and node.has_tail_next):
            yield _at_next("invalid-next", node, (
                f"Step '{node.name}' has a self.next() that cannot be understood: "
                f"{node.invalid_tail_next}. Use one of {_NEXT_FORMS}."))


@rule()
def targets_exist(graph: FlowGraph) -> Iterator[Finding]:
    names = list(graph.nodes)
    for node in graph:
        if node.is_end:
            continue
        for target in node.out_funcs:
            if target in graph:
                continue
            import difflib

            close = difflib.get_close_matches(target, names, n=1)
            hint = (
                f"Did you mean self.{close[0]}?" if close
                else f"Define a @step named '{target}' or go to one of: {_names(names)}."
            )
            yield _at_next("unknown-transition", node, (
                f"Step '{node.name}' goes to self.{target}, but the flow has no step "
                f"named '{target}'. {hint}"))


@rule()
def switch_cases(graph: FlowGraph) -> Iterator[Finding]:
    for node in graph:
        if node.condition is None:
            continue
        if node.switch_bad_keys:
            yield _at_next("switch-keys", node, (
                f"The cases of conditional step '{node.name}' must be written as literal "
                f"strings, numbers or booleans, e.g. {{'yes': self.a, 'no': self.b}}. "
                f"Replace the variable or expression keys with literals."))
        elif len(set(node.switch_cases.values())) < 2:
            targets = _names(dict.fromkeys(node.switch_cases.values())) or "none"
            yield _at_next("switch-cases", node, (
                f"Conditional step '{node.name}' can only go to {targets}; a condition needs at "
                f"least two different steps to choose from. Add a case, or use a plain "
                f"self.next(self.<step>)."))


@rule()
def foreach_has_body(graph: FlowGraph) -> Iterator[Finding]:
    for node in graph:
        if node.foreach_param is None:
            continue
        for target in node.out_funcs:
            if target in graph and graph[target].is_join:
                yield _at_next("empty-foreach", node, (
                    f"Foreach step '{node.name}' goes straight to join step '{target}', so "
                    f"nothing runs for each item. Add a step in between: "
                    f"self.next(self.<body>, foreach='{node.foreach_param}') in '{node.name}' "
                    f"and self.next(self.{target}) in the new step."))


@rule()
def switch_not_into_join(graph: FlowGraph) -> Iterator[Finding]:
    for node in graph:
        if node.condition is None:
            continue
        for key, target in node.switch_cases.items():
            if target != node.name and target in graph and graph[target].is_join:
                yield _at_next("switch-into-join", node, (
                    f"Case {key!r} of conditional step '{node.name}' goes straight to join step "
                    f"'{target}'; a case of a condition cannot lead directly into a join. "
                    f"Put a plain step between '{node.name}' and '{target}' on that case."))


@rule()
def no_loops(graph: FlowGraph) -> Iterator[Finding]:
    for loop in _loops(graph):
        closing = graph[loop[-2]]
        again = closing.name if len(loop) == 2 else "<step>"
        yield _at_next("cycle", closing, (
            f"The flow loops: {' -> '.join(loop)}. Change the self.next() of '{closing.name}' so "
            f"the flow moves forward; only a conditional step may go back to itself, e.g. "
            f"self.next({{'again': self.{again}, 'done': self.<next>}}, condition='attr')."))


# -- shape rules: run on a readable DAG only ----------------------------------------------


@rule(shape=True)
def steps_are_reachable(graph: FlowGraph) -> Iterator[Finding]:
    reached = _SplitWalk(graph).stacks
    for node in graph:
        # A second step named start/end is already reported as ambiguous.
        if node.name in reached or node.name in (START, END):
            continue
        yield _at_def("orphan", node, (
            f"Step '{node.name}' is never reached from the start step '{graph.start}'. Add "
            f"self.next(self.{node.name}) to the step that should run before it, or delete it."))


@rule(shape=True)
def joins_match_splits(graph: FlowGraph) -> Iterator[Finding]:
    walk = _SplitWalk(graph)
    problems = {f.step: f for node in graph if (f := _join_problem(graph, walk, node))}
    for name, finding in problems.items():
        # A join after a broken one inherits its mistake; report the first only.
        if not _ancestors(graph, name or "") & problems.keys():
            yield finding


def _join_problem(graph: FlowGraph, walk: _SplitWalk, node: StepNode) -> Finding | None:
    if not node.is_join or node.is_start or node.is_end or node.name not in walk.stacks:
        return None
    arriving = walk.arriving(node.name)
    splits = {tuple(split for split, _ in stack) for stack in arriving.values()}
    if splits == {()}:
        return _at_def("join-without-split", node, (
            f"Step '{node.name}' takes inputs (a join), but no split comes before it; the "
            f"step where the cases of a condition meet takes only self. Remove 'inputs' "
            f"or branch before it with self.next(self.a, self.b)."))
    if len(splits) > 1:
        origins = _names(
            f"'{p}' from split '{s[-1][0]}'" if s else f"'{p}' from outside any split"
            for p, s in arriving.items()
        )
        return _at_def("cross-join", node, (
            f"Join step '{node.name}' gathers branches of different splits ({origins}). "
            f"Give each split its own join, and join the inner split before the outer one."))
    split = graph[next(iter(splits))[-1]]
    got = {stack[-1][1] for stack in arriving.values()}
    missing = [b for b in split.out_funcs if b not in got]
    if not missing:
        return None
    return _at_def("join-mismatch", node, (
        f"Join step '{node.name}' gathers the split '{split.name}', but its branch(es) "
        f"{_names(missing)} never reach it. Make every branch of '{split.name}' end "
        f"with self.next(self.{node.name})."))


@rule(shape=True)
def merges_take_inputs(graph: FlowGraph) -> Iterator[Finding]:
    for node, split in _merges_without_inputs(graph, _SplitWalk(graph)):
        yield _at_def("missing-inputs", node, (
            f"Step '{node.name}' is reached by parallel branches of split '{split}' "
            f"({_names(p for p in node.in_funcs if p != node.name)}) but takes no inputs. Make "
            f"it a join by adding an `inputs` argument: def {node.name}(self, inputs)."))


@rule(shape=True)
def splits_are_joined(graph: FlowGraph) -> Iterator[Finding]:
    walk = _SplitWalk(graph)
    assert graph.end is not None
    reported = {split for _, split in _merges_without_inputs(graph, walk)}
    # An end step taking inputs closes one split; it is reported by end-is-join.
    trim = 1 if graph[graph.end].is_join else 0
    stacks = [stack[: len(stack) - trim] for stack in walk.arriving(graph.end).values()]
    for split in dict.fromkeys(name for stack in stacks for name, _ in stack):
        if split not in reported:
            yield _at_next("unjoined-split", graph[split], (
                f"The branches of split '{split}' reach the end step '{graph.end}' without "
                f"being joined. Add a join step, def join(self, inputs), that every branch "
                f"goes to before '{graph.end}'."))
