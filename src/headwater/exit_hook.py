"""``@exit_hook``: functions run once a run has finished, as in Metaflow.

::

    @exit_hook(on_success=[notify], on_error=[page_someone])
    class TrainFlow(FlowSpec): ...

When the run ends (``run`` or ``resume``, also stopped by Ctrl-C or SIGTERM), each function
of ``on_success`` (the end step succeeded) or ``on_error`` (it did not) runs in its own
Python process, ``python -m headwater.exit_hook FLOW_FILE FUNCTION FLOW/RUN``, one after the
other. A
function with a ``run`` parameter (or ``**kwargs``) gets ``run=Run("FLOW/RUN")``. What it
prints is shown after it finishes; a failure is reported as one line (its traceback, without
Headwater's frames, above it) and never changes the run's outcome or exit status.

Functions are named by reference or by name: a name is an import path (``pkg.mod.fn``) or a
function of the flow file.
"""

from __future__ import annotations

import os
import sys

from .decorators import _user_location
from .user_decorators import UserDecoratorError

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any


class ExitHook:
    """One ``@exit_hook(...)`` written on a flow class (a flow may have several)."""

    name = "exit_hook"

    def __init__(self, attributes: dict[str, Any], where: str | None) -> None:
        self.attributes = attributes
        self.where = where
        self.problem: UserDecoratorError | None = None
        self.success_hooks = self._names("on_success")
        self.error_hooks = self._names("on_error")
        if self.problem is None and not self.success_hooks and not self.error_hooks:
            self.problem = UserDecoratorError(
                "@exit_hook needs at least one of on_success=[...] or on_error=[...].", where=where)

    def _names(self, key: str) -> list[str]:
        value = self.attributes.get(key) or []
        if callable(value) or isinstance(value, str):
            value = [value]
        names = []
        for fn in value:
            if isinstance(fn, str):
                names.append(fn)
            elif callable(fn):
                names.append(fn.__name__)
            else:
                self.problem = self.problem or UserDecoratorError(
                    f"@exit_hook({key}=...) takes functions or their names, got {fn!r}.", where=self.where)
        return names

    def __repr__(self) -> str:
        return f"@exit_hook(on_success={self.success_hooks}, on_error={self.error_hooks})"


def exit_hook(flow_cls: Any = None, *, on_success: Any = None, on_error: Any = None,
              options: dict[str, Any] | None = None) -> Any:
    """Run functions when the flow's run finishes: ``on_success`` when it succeeded,
    ``on_error`` when it failed. Metaflow's ``options`` is accepted and unused."""
    where = _user_location()
    hook = ExitHook({"on_success": on_success or [], "on_error": on_error or [],
                     "options": options or {}}, where)

    def attach(cls: Any) -> Any:
        from .flowspec import FlowSpec

        if not (isinstance(cls, type) and issubclass(cls, FlowSpec)):
            target = getattr(cls, "__name__", repr(cls))
            problem = UserDecoratorError(
                f"@exit_hook decorates the flow class, not {target!r}; put it above "
                "`class ...(FlowSpec)`.", where=where)
            if callable(cls) and hasattr(cls, "__dict__"):
                cls.__dict__.setdefault("_hw_problems", []).append(problem)
                return cls
            raise problem
        own = cls.__dict__.get("_hw_exit_hooks")
        if own is None:
            own = []
            type.__setattr__(cls, "_hw_exit_hooks", own)
        own.append(hook)
        return cls

    if flow_cls is not None:
        return attach(flow_cls)
    return attach


def exit_hooks(flow_cls: type) -> list[ExitHook]:
    out: list[ExitHook] = []
    for klass in reversed(flow_cls.__mro__):
        out.extend(klass.__dict__.get("_hw_exit_hooks", ()))
    return out


def run_exit_hooks(flow_cls: type, *, run_id: Any, ok: bool, script: str, root: str) -> None:
    """Run the hooks for a finished run; report, never raise."""
    hooks = exit_hooks(flow_cls)
    names = [n for h in hooks for n in (h.success_hooks if ok else h.error_hooks)]
    if not names:
        return
    import subprocess

    env = dict(os.environ)
    env["HEADWATER_HOME"] = root
    pathspec = f"{flow_cls.__name__}/{run_id}"
    for name in names:
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "headwater.exit_hook", os.path.abspath(script), name, pathspec],
                env=env, stdout=subprocess.PIPE, check=False)
        except OSError as exc:
            print(f"[exit_hook] Hook {name!r} could not be started: {exc}", flush=True)
            continue
        out = proc.stdout.decode(errors="replace").strip()
        if out:
            print(out, flush=True)
        if proc.returncode != 0:
            print(f"[exit_hook] Hook {name!r} failed with error: it exited with status {proc.returncode}",
                  flush=True)


def _load(flow_file: str, name: str) -> Any:
    from importlib import import_module
    from importlib.util import module_from_spec, spec_from_file_location

    if "." in name:
        module, _, attr = name.rpartition(".")
        try:
            return getattr(import_module(module), attr)
        except (ImportError, AttributeError):
            pass
    sys.path.insert(0, os.path.dirname(flow_file))
    module_name = os.path.splitext(os.path.basename(flow_file))[0]
    spec = spec_from_file_location(module_name, flow_file)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {flow_file}")
    module = module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return getattr(module, name)


def main(argv: list[str]) -> int:
    """``python -m headwater.exit_hook FLOW_FILE FUNCTION FLOW/RUN``: run one hook."""
    import inspect

    from .task import user_traceback

    if len(argv) != 3:
        print("usage: python -m headwater.exit_hook FLOW_FILE FUNCTION FLOW/RUN", file=sys.stderr)
        return 2
    flow_file, name, pathspec = argv
    try:
        fn = _load(flow_file, name)
    except Exception as exc:  # noqa: BLE001 - one line: which hook could not be found
        print(f"[exit_hook] Could not load function {name!r} as an import path or from "
              f"{flow_file!r}: {type(exc).__name__}: {exc}")
        return 1
    try:
        params = inspect.signature(fn).parameters
        wants_run = "run" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())
        if wants_run:
            from .client import Run

            try:
                run = Run(pathspec, _namespace_check=False)
            except Exception as exc:  # noqa: BLE001 - Metaflow passes None then
                print(exc)
                run = None
            fn(run=run)
        else:
            fn()
    except Exception as exc:  # noqa: BLE001 - the user's traceback, not ours
        sys.stdout.flush()
        print(user_traceback(exc), file=sys.stderr, end="", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
