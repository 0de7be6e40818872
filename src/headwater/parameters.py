"""Run parameters: ``Parameter``, ``JSONType`` and ``IncludeFile``.

A parameter is a class attribute of the flow. Its value is fixed when the run starts (from
``--name value``, then ``HEADWATER_RUN_<NAME>``, then Metaflow's spelling ``METAFLOW_RUN_<NAME>``,
then the default), stored as an artifact of
the run's ``_parameters`` task, and read-only inside steps::

    class TrainFlow(FlowSpec):
        alpha = Parameter("alpha", default=0.5, help="learning rate")
        data = IncludeFile("data", default="data.csv")
"""

from __future__ import annotations

import json
import os
import sys
from collections import namedtuple

from .exceptions import ParameterError

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any

ParameterContext = namedtuple("ParameterContext", "flow_name user_name parameter_name")

ENV_PREFIX = "HEADWATER_RUN_"
METAFLOW_ENV_PREFIX = "METAFLOW_RUN_"  # honoured too, after HEADWATER_RUN_<NAME>
# Options of `run` and `resume`: a parameter by one of these names would silently take it over.
RESERVED_PARAMETER_NAMES = frozenset({
    "tag", "tags", "max-workers", "max-num-splits", "max-cpu", "max-memory", "run-id-file",
    "quiet", "executor", "origin-run-id", "help", "h", "with", "config", "config-value",
    "datastore-root", "namespace",
})


class JSONType:
    """Use as ``type=JSONType`` for a parameter given as a JSON string."""

    name = "JSON"


_TYPE_NAMES = {str: "text", int: "integer", float: "number", bool: "true/false", JSONType: "JSON"}
_TYPE_PHRASES = {str: "text", int: "an integer", float: "a number", bool: "true or false", JSONType: "valid JSON"}
_TRUE = {"true", "1", "yes", "y", "on", "t"}
_FALSE = {"false", "0", "no", "n", "off", "f"}


class Parameter:
    """A value given when the run starts.

    ``type`` is one of ``str``, ``int``, ``float``, ``bool``, ``JSONType``; when omitted it
    follows the default's type. A callable default is evaluated once per run; it may take a
    context with ``flow_name``, ``user_name`` and ``parameter_name``. With ``separator``,
    the value is split into a list of items of ``type``.
    """

    is_config = False
    is_include = False

    def __init__(self, name: str, default: Any = None, type: Any = None, help: str | None = None,
                 required: bool = False, separator: str | None = None, show_default: bool = True,
                 **kwargs: Any) -> None:
        if not isinstance(name, str) or not name:
            raise ParameterError("a Parameter needs a name, e.g. Parameter('alpha', default=0.5)")
        caller = sys._getframe(1)
        while caller.f_back is not None and caller.f_code.co_filename == __file__:
            caller = caller.f_back  # subclasses' __init__ (IncludeFile, Config) call this one
        self.where = f"{caller.f_code.co_filename}:{caller.f_lineno}"
        self.name = name
        self.default = default
        self.help = help or ""
        self.required = required
        self.separator = separator
        self.show_default = show_default
        self.attr = name
        self.type = type if type is not None else _infer_type(default)
        if self.type not in _TYPE_NAMES:
            raise ParameterError(
                f"Parameter {name!r}: type must be str, int, float, bool or JSONType, not {self.type!r}"
            )

    def __set_name__(self, owner: type, attr: str) -> None:
        self.attr = attr

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        return obj._read_parameter(self.attr)

    def __set__(self, obj: Any, value: Any) -> None:
        raise AttributeError(
            f"Parameter {self.name!r} is read-only inside a step. Store a changed value under "
            f"another name, e.g. self.{self.attr}_used = ..."
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, default={self.default!r})"

    @property
    def env_name(self) -> str:
        return ENV_PREFIX + self.name.upper().replace("-", "_")

    @property
    def type_name(self) -> str:
        return _TYPE_NAMES[self.type]

    # -- resolving a value at run start -------------------------------------------------------
    def resolve(self, given: str | None, *, flow_name: str, user: str) -> Any:
        """The run's value: the command line's ``given``, else the environment, else the default."""
        if given is None:
            given = os.environ.get(self.env_name)
        if given is None:
            given = os.environ.get(METAFLOW_ENV_PREFIX + self.env_name[len(ENV_PREFIX):])
        if given is not None:
            return self.convert(given)
        default = self.default
        if callable(default) and not isinstance(default, type):
            default = _call_default(default, ParameterContext(flow_name, user, self.name))
        if isinstance(default, str) and (self.type is not str or self.separator is not None):
            return self.convert(default)
        if default is None:
            if self.required:
                raise ParameterError(
                    f"the parameter --{self.name} is required. Give it on the command line "
                    f"(--{self.name} VALUE) or set {self.env_name}."
                )
            return None
        return self.finish(default)

    def finish(self, value: Any) -> Any:
        """Post-process a default value (IncludeFile reads its file here)."""
        return value

    def convert(self, raw: str) -> Any:
        if self.separator is not None and isinstance(raw, str):
            return [self._convert_one(part.strip()) for part in raw.split(self.separator)]
        return self._convert_one(raw)

    def _convert_one(self, raw: Any) -> Any:
        if not isinstance(raw, str):
            return raw
        try:
            if self.type is bool:
                low = raw.strip().lower()
                if low in _TRUE:
                    return True
                if low in _FALSE:
                    return False
                raise ValueError(raw)
            if self.type is JSONType:
                return json.loads(raw)
            return self.type(raw)
        except (ValueError, json.JSONDecodeError) as exc:
            hint = {
                int: "a whole number such as 3",
                float: "a number such as 0.5",
                bool: "true or false",
                JSONType: 'valid JSON such as \'{"a": 1}\'',
            }.get(self.type, "text")
            raise ParameterError(
                f"the parameter --{self.name} got {raw!r}, which is not {_TYPE_PHRASES[self.type]}; give {hint}."
                + (f" ({exc})" if self.type is JSONType else "")
            ) from None


class IncludeFile(Parameter):
    """A local file read when the run starts and stored with the run.

    The step sees the file's contents: ``str`` when ``is_text`` (the default), else ``bytes``.
    """

    is_include = True

    def __init__(self, name: str, default: str | None = None, is_text: bool = True,
                 encoding: str = "utf-8", help: str | None = None, required: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(name, default=default, type=str, help=help, required=required)
        self.is_text = is_text
        self.encoding = encoding

    def convert(self, raw: str) -> Any:
        return self.finish(raw)

    def finish(self, value: Any) -> Any:
        path = os.path.expanduser(str(value))
        if not os.path.isfile(path):
            raise ParameterError(
                f"IncludeFile --{self.name}: the file {path!r} does not exist"
                f" (looked in {os.getcwd()}). Give an existing path with --{self.name} PATH."
            )
        with open(path, "rb") as f:
            data = f.read()
        if not self.is_text:
            return data
        try:
            return data.decode(self.encoding)
        except UnicodeDecodeError:
            raise ParameterError(
                f"IncludeFile --{self.name}: {path} is not {self.encoding} text; "
                "pass is_text=False to read it as bytes."
            ) from None


def _infer_type(default: Any) -> Any:
    if default is None or callable(default):
        return str
    for kind in (bool, int, float, str):
        if type(default) is kind:
            return kind
    if isinstance(default, dict | list | tuple):
        return JSONType
    return str


def _call_default(func: Any, ctx: ParameterContext) -> Any:
    try:
        import inspect

        wants_ctx = len(inspect.signature(func).parameters) > 0
    except (TypeError, ValueError):
        wants_ctx = False
    return func(ctx) if wants_ctx else func()


def check_parameter_names(flow_cls: type) -> None:
    """Refuse parameters that would take over an option of ``run`` (Metaflow refuses them too)."""
    for klass in flow_cls.__mro__:
        for value in vars(klass).values():
            if isinstance(value, Parameter) and value.name.lower().replace("_", "-") in RESERVED_PARAMETER_NAMES:
                raise ParameterError(
                    f"{type(value).__name__} {value.name!r} has the name of an option of `run`/`resume`,"
                    " so it would take that option over; rename it (e.g. add a prefix).",
                    where=value.where,
                )


def flow_parameters(flow_cls: type) -> list[Parameter]:
    """The flow's parameters (configs excluded), in definition order, bases first."""
    seen: dict[str, Parameter] = {}
    for klass in reversed(flow_cls.__mro__):
        for attr, value in vars(klass).items():
            if isinstance(value, Parameter) and not value.is_config:
                seen[attr] = value
    return list(seen.values())
