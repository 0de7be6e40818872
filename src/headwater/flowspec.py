"""``FlowSpec``: the base class of every flow.

A flow instance lives inside one task. Reading ``self.x`` loads the artifact ``x`` from the
parent task on first use (lazily, then cached); assigning ``self.x = ...`` creates or replaces
an artifact that is stored when the step ends. Parameters, configs and class-level constants
are read-only. ``self.next(...)`` records where the flow goes next; the task checks it against
the graph read from the source.

Calling the class (``TrainFlow()``) in the flow file's ``__main__`` block runs the command line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from .exceptions import DamagedBlobError, MergeArtifactsError, StepError

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any

LARGE = 1 << 20  # artifacts bigger than this are fingerprinted on load (see task._persist)
# Values of these types cannot change in place: while the attribute still holds the object that
# was loaded, the parent's blob is passed on as is, without serializing it again.
IMMUTABLE = frozenset({int, float, complex, str, bytes, bool, type(None)})

# Names a flow may not use for artifacts or steps: FlowSpec's own API.
RESERVED = frozenset({
    "next", "input", "index", "foreach_stack", "merge_artifacts", "name", "cmd", "script_name",
})


class ForeachFrame(tuple):
    """One enclosing foreach as Metaflow's tooling reads it from ``flow._foreach_stack``:
    ``step`` (the first step inside the foreach), ``var``, ``num_splits``, ``index``, ``value``
    (a short summary of the item)."""

    __slots__ = ()
    _fields = ("step", "var", "num_splits", "index", "value")

    def __new__(cls, step: str | None, var: str, num_splits: int, index: int, value: Any = None) -> ForeachFrame:
        return tuple.__new__(cls, (step, var, num_splits, index, value))

    step = property(lambda self: self[0])
    var = property(lambda self: self[1])
    num_splits = property(lambda self: self[2])
    index = property(lambda self: self[3])
    value = property(lambda self: self[4])

    def __repr__(self) -> str:
        return "ForeachFrame(" + ", ".join(f"{k}={v!r}" for k, v in zip(self._fields, self, strict=True)) + ")"


class _ClassGraph:
    """``flow._graph`` (and ``FlowClass._graph``): the graph read from the source, as in Metaflow.

    Inside a task it is the run's graph; elsewhere it is read from the class once and kept.
    """

    def __get__(self, obj: Any, cls: type) -> Any:
        if obj is not None:
            graph = obj.__dict__.get("_hw_graph")
            if graph is not None:
                return graph
        graph = cls.__dict__.get("_hw_class_graph")
        if graph is None:
            from .graph import FlowGraph

            graph = FlowGraph(cls)
            type.__setattr__(cls, "_hw_class_graph", graph)
        return graph


# Set by ``python -m headwater.task`` while it executes the flow file as ``__main__``: the
# file's ``if __name__ == "__main__": MyFlow()`` must then define the class, not start a run.
_LOADED_FOR_TASK = False


class FlowSpec:
    """Subclass this and add ``@step`` methods; see the package docs for a full example."""

    def __init__(self, use_cli: bool = True) -> None:
        if use_cli and not _LOADED_FOR_TASK:
            from .cli.commands import main

            main(type(self))

    # -- what Metaflow's tooling reads of a flow -----------------------------------------------
    _graph = _ClassGraph()

    def __iter__(self) -> Iterator[Any]:
        """The step functions, in the order of the source (each has ``.name``)."""
        cls = type(self)
        return iter([getattr(cls, node.name) for node in self._graph])

    @property
    def _steps(self) -> list[Any]:
        return list(self)

    @property
    def _current_step(self) -> str | None:
        """The name of the step this task runs (None outside a task)."""
        return self.__dict__.get("_hw_step") or None

    @property
    def _foreach_stack(self) -> list[ForeachFrame]:
        """The enclosing foreaches, outermost first, as Metaflow's ``ForeachFrame`` tuples."""
        graph = self.__dict__.get("_hw_graph")
        stack = []
        for f in self._foreach_frames():
            split = f.get("step")
            first = None
            if graph is not None and split in graph and graph[split].out_funcs:
                first = graph[split].out_funcs[0]
            var = f["var"] if f["var"] is not None else "_parallel_ubf_iter"  # Metaflow's name for a gang
            stack.append(ForeachFrame(first, var, f["num_splits"], f["index"], f.get("value")))
        return stack

    # -- identity ------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return type(self).__name__

    @property
    def script_name(self) -> str:
        import os
        import sys

        return os.path.basename(sys.modules[type(self).__module__].__file__ or "")

    # -- artifact access ------------------------------------------------------------------------
    def _hw_bind(self, *, artifacts: dict[str, Any], params: dict[str, Any], store: Any,
                 graph: Any = None, step: str = "", frames: Sequence[dict] = (),
                 is_join: bool = False, damaged: Any = None) -> None:
        """Attach this instance to a task's data: artifact refs by name, and the blob store.

        ``damaged(name, key, error, is_param)`` turns a damaged blob into the error a user
        reads (which artifact of which task, and what to re-run); without it the blob layer's
        error goes as is."""
        d = self.__dict__
        d["_hw_damaged"] = damaged
        d["_hw_refs"] = artifacts  # name -> (key, type, size) inherited from the parent
        d["_hw_params"] = params  # name -> (key, type, size) of parameters and constants
        d["_hw_store"] = store
        d["_hw_graph"] = graph
        d["_hw_step"] = step
        d["_hw_frames"] = list(frames)
        d["_hw_is_join"] = is_join
        d["_hw_loaded"] = {}  # name -> fingerprint of large artifacts loaded from a parent
        d["_hw_kept"] = {}  # name -> immutable value loaded from a parent (same object = unchanged)
        d["_hw_transition"] = None

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: the name may be a not-yet-loaded artifact.
        if name.startswith("_hw_") or name.startswith("__"):
            raise AttributeError(name)
        d = self.__dict__
        refs = d.get("_hw_refs")
        if refs is not None and name in refs:
            key, _, size = refs[name]
            store = d["_hw_store"]
            if "_hw_prefetched" not in d and len(refs) > 1:
                d["_hw_prefetched"] = True  # read the small others side by side (remote stores)
                store.prefetch((r[0], r[2]) for n, r in refs.items() if n != name and n not in d)
            try:
                value = store.load(key, size=size)
            except DamagedBlobError as exc:
                if d.get("_hw_damaged") is None:
                    raise
                raise d["_hw_damaged"](name, key, exc, False) from None
            d[name] = value
            if type(value) in IMMUTABLE:
                d["_hw_kept"][name] = value
            elif size > LARGE:
                # Remember what it looked like, so an unchanged large value is not stored again.
                d["_hw_loaded"][name] = store.fingerprint(value)
            return value
        raise AttributeError(self._missing_message(name))

    def _missing_message(self, name: str) -> str:
        known = sorted(set(self.__dict__.get("_hw_refs") or ()) | {
            k for k in self.__dict__ if not k.startswith("_hw_")})
        hint = ""
        import difflib

        close = difflib.get_close_matches(name, known, n=1)
        if close:
            hint = f" Did you mean {close[0]!r}?"
        if self.__dict__.get("_hw_is_join"):
            hint += (" In a join step, artifacts of the branches are on inputs "
                     f"(e.g. inputs[0].{name}); use self.merge_artifacts(inputs) to copy them over.")
        return f"{type(self).__name__} has no artifact or attribute {name!r}.{hint}"

    def _read_parameter(self, attr: str) -> Any:
        d = self.__dict__
        if attr in d:
            return d[attr]
        params = d.get("_hw_params")
        if params is None:
            # Outside a task (e.g. tests building the class): fall back to the resolved values.
            values = getattr(type(self), "_hw_param_values", {})
            if attr in values:
                return values[attr]
            raise AttributeError(f"parameter {attr!r} has no value outside a run")
        if attr not in params:
            raise AttributeError(f"parameter {attr!r} was not stored with this run")
        try:
            value = d["_hw_store"].load(params[attr][0])
        except DamagedBlobError as exc:
            if d.get("_hw_damaged") is None:
                raise
            raise d["_hw_damaged"](attr, params[attr][0], exc, True) from None
        d[attr] = value
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_hw_"):
            object.__setattr__(self, name, value)
            return
        if name in RESERVED:
            raise AttributeError(
                f"{name!r} is a reserved name of FlowSpec and cannot be an artifact; choose another name."
            )
        for klass in type(self).__mro__:
            if name in vars(klass):
                attr = vars(klass)[name]
                if hasattr(attr, "__set__"):
                    break  # a parameter: its descriptor refuses with a clear message
                if not callable(attr) and not name.startswith("_"):
                    raise AttributeError(
                        f"{name!r} is a class-level constant of {type(self).__name__} and is read-only "
                        f"inside steps; store a changed value under another name (e.g. self.{name}_value)."
                    )
                break
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        d = self.__dict__
        refs = d.get("_hw_refs")
        if refs is not None and name in refs:
            refs.pop(name)
            d.pop(name, None)
            return
        object.__delattr__(self, name)

    def _hw_artifact_names(self) -> set[str]:
        names = set(self.__dict__.get("_hw_refs") or ())
        names |= {k for k in self.__dict__ if not k.startswith("_hw_")}
        return names

    # -- foreach ---------------------------------------------------------------------------------
    def _foreach_frames(self) -> list[dict]:
        """The enclosing foreaches; a ``@parallel`` gang counts as one over its node indexes,
        as in Metaflow (``self.input`` and ``self.index`` are the node's index)."""
        return [f for f in self.__dict__.get("_hw_frames", ()) if f.get("var") is not None or f.get("parallel")]

    @staticmethod
    def _frame_item(flow: Any, frame: dict) -> Any:
        return frame["index"] if frame.get("parallel") else getattr(flow, frame["var"])[frame["index"]]

    @property
    def input(self) -> Any:
        """In a foreach branch, the item of the foreach list this task works on."""
        frames = self._foreach_frames()
        d = self.__dict__
        if not frames or d.get("_hw_is_join"):
            return None
        if "_hw_input" not in d:
            d["_hw_input"] = self._frame_item(self, frames[-1])
        return d["_hw_input"]

    @property
    def index(self) -> int | None:
        """In a foreach branch, the position of ``self.input`` in the foreach list."""
        frames = self._foreach_frames()
        return frames[-1]["index"] if frames else None

    def foreach_stack(self) -> list[tuple[int, int, Any]]:
        """``(index, num_splits, value)`` for every enclosing foreach, outermost first.

        ``value`` is the item itself, read from the foreach's list (still an artifact here).
        """
        stack = []
        for f in self._foreach_frames():
            try:
                value = self._frame_item(self, f)
            except (AttributeError, LookupError, TypeError):
                value = f.get("value")  # the list is gone (a join, or deleted): its summary
            stack.append((f["index"], f["num_splits"], value))
        return stack

    # -- transitions ----------------------------------------------------------------------------
    def next(self, *targets: Any, foreach: str | None = None, condition: str | None = None,
             num_parallel: int | None = None) -> None:
        """Say which step(s) run after this one. Must be the step's last statement."""
        d = self.__dict__
        step = d.get("_hw_step", "?")
        if d.get("_hw_transition") is not None:
            raise StepError(f"step {step!r} called self.next() twice; call it once, as the last line.")
        if len(targets) == 1 and isinstance(targets[0], dict):
            if condition is None:
                raise StepError(f"step {step!r}: a dict of cases needs condition='<artifact>'.")
            names = {str(k): _step_name(v, step) for k, v in targets[0].items()}
            d["_hw_transition"] = {"cases": names, "condition": condition}
        else:
            names = [_step_name(t, step) for t in targets]
            d["_hw_transition"] = {"targets": names, "foreach": foreach}
            if num_parallel is not None:
                if isinstance(num_parallel, bool) or not isinstance(num_parallel, int) or num_parallel < 1:
                    raise StepError(f"step {step!r}: num_parallel must be a whole number of at least 1 "
                                    f"(the number of nodes), got {num_parallel!r}.")
                d["_hw_transition"]["num_parallel"] = num_parallel
        graph = d.get("_hw_graph")
        if graph is not None:
            self._check_transition(graph[step])

    def _check_transition(self, node: Any) -> None:
        t = self.__dict__["_hw_transition"]
        if "cases" in t:
            got = f"self.next({t['cases']}, condition={t['condition']!r})"
            ok = node.condition == t["condition"] and node.switch_cases == t["cases"]
        else:
            got = "self.next(" + ", ".join(f"self.{n}" for n in t["targets"])
            got += f", foreach={t['foreach']!r})" if t["foreach"] else ")"
            ok = (node.out_funcs == t["targets"] and node.foreach_param == t["foreach"] and not node.condition
                  and node.num_parallel == bool(t.get("num_parallel")))
        if not ok:
            raise StepError(
                f"step {node.name!r} called {got}, but the flow's code at {node.file}:"
                f"{node.tail_next_lineno or node.lineno} says otherwise. Headwater reads the graph "
                "from the source, so the self.next() call must be the step's last statement and "
                "always name the same steps; use a conditional self.next({...}, condition=...) "
                "to choose between steps at run time."
            )

    # -- joins ----------------------------------------------------------------------------------
    def merge_artifacts(self, inputs: Inputs, exclude: Sequence[str] | None = None,
                        include: Sequence[str] | None = None) -> None:
        """In a join, copy the branches' artifacts onto ``self`` where they do not conflict.

        Artifacts already set in this step are left alone. An artifact whose value differs
        between branches (compared by content) is an error unless excluded, or set first.
        ``include`` restricts the merge to the names given (each must be a branch's artifact or
        readable in the join already, like a parameter); ``exclude`` skips names. Use one or
        the other.
        """
        if not self.__dict__.get("_hw_is_join") or not isinstance(inputs, Inputs):
            raise MergeArtifactsError(
                "merge_artifacts() can only be called in a join step (def join(self, inputs)) "
                "with its inputs: self.merge_artifacts(inputs)."
            )
        if include and exclude:
            raise MergeArtifactsError("merge_artifacts() takes include= or exclude=, not both.")
        own = {k for k in self.__dict__ if not k.startswith("_hw_")}
        params = set(self.__dict__.get("_hw_params") or ())
        seen: dict[str, tuple[Any, ...]] = {}
        conflicts: list[str] = []
        for inp in inputs:
            for name, ref in inp._hw_effective_refs().items():
                if name in own or name in params or (exclude and name in exclude):
                    continue
                if include and name not in include:
                    continue
                if name in seen and seen[name][0] != ref[0]:
                    if name not in conflicts:
                        conflicts.append(name)
                else:
                    seen.setdefault(name, ref)
        if conflicts:
            names = ", ".join(conflicts)
            raise MergeArtifactsError(
                f"merge_artifacts() found different values in the branches for: {names}. Set "
                "them in the join before merging (e.g. self.x = max(i.x for i in inputs)) or "
                f"pass exclude=[{', '.join(repr(c) for c in conflicts)}]."
            )
        if include:
            # As in Metaflow, a name the join can already read counts as present: a parameter,
            # a class constant, or an artifact the join holds already.
            refs = self.__dict__.get("_hw_refs") or {}
            missing = [n for n in include if n not in seen and n not in own and n not in params
                       and n not in refs and not any(n in vars(k) for k in type(self).__mro__)]
            if missing:
                raise MergeArtifactsError(
                    f"merge_artifacts(include=...) names artifacts no branch has: {', '.join(missing)}."
                )
        refs = self.__dict__["_hw_refs"]
        for name, ref in seen.items():
            refs[name] = ref

    def _hw_effective_refs(self) -> dict[str, tuple[Any, ...]]:
        """Artifact refs of a finished parent task, as seen by a join."""
        return dict(self.__dict__.get("_hw_refs") or {})

    def __repr__(self) -> str:
        step = self.__dict__.get("_hw_step")
        return f"<{type(self).__name__} step={step!r}>" if step else f"<{type(self).__name__}>"


def _step_name(target: Any, step: str) -> str:
    name = getattr(target, "__name__", None)
    if name is None or not callable(target):
        raise StepError(
            f"step {step!r}: self.next() takes steps written as self.<step>, got {target!r}."
        )
    return name


class Inputs:
    """The ``inputs`` of a join: the finished branches, in split order.

    ``for inp in inputs``, ``inputs[0]``, ``len(inputs)``, and ``inputs.<step>`` for the
    branch that ended with that step.
    """

    def __init__(self, flows: list[FlowSpec]) -> None:
        self._flows = flows

    def __iter__(self) -> Iterator[FlowSpec]:
        return iter(self._flows)

    def __len__(self) -> int:
        return len(self._flows)

    def __getitem__(self, index: int) -> FlowSpec:
        return self._flows[index]

    def __getattr__(self, name: str) -> FlowSpec:
        if name.startswith("_"):
            raise AttributeError(name)
        for flow in self._flows:
            if flow.__dict__.get("_hw_step") == name:
                return flow
        steps = [f.__dict__.get("_hw_step") for f in self._flows]
        raise AttributeError(f"inputs has no branch {name!r}; the branches are: {', '.join(map(str, steps))}")

    def __repr__(self) -> str:
        return f"<Inputs of {len(self)} branches>"


StepFunction = Callable[..., None]
