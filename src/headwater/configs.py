"""``Config``: structured settings read before the flow is built.

    class TrainFlow(FlowSpec):
        cfg = Config("cfg", default="cfg.json")

        @retry(times=cfg.retries)          # usable in decorator arguments
        @step
        def start(self):
            print(self.cfg.model.depth, self.cfg["lr"])

Values come, as in Metaflow, from options given *before* the command:
``python flow.py --config cfg other.json run`` or
``python flow.py --config-value cfg '{"lr": 0.1}' run``; otherwise from ``default`` (a path)
or ``default_value`` (a dict or a JSON string). In the class body, ``cfg.retries`` is a
delayed expression, resolved once the values are known.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

from .exceptions import ParameterError
from .parameters import Parameter

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any


class ConfigValue(Mapping):
    """A read-only mapping whose keys are also attributes: ``cfg.model.depth == cfg["model"]["depth"]``."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_data", dict(data))

    def __getitem__(self, key: str) -> Any:
        return _wrap(self._data[key])

    def __iter__(self):
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __getattr__(self, name: str) -> Any:
        try:
            return _wrap(self._data[name])
        except KeyError:
            raise AttributeError(f"config has no key {name!r}; keys: {', '.join(self._data)}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a Config value is read-only")

    def __repr__(self) -> str:
        return f"ConfigValue({self._data!r})"

    def __eq__(self, other: object) -> bool:
        return self._data == (other._data if isinstance(other, ConfigValue) else other)

    def __reduce__(self) -> Any:
        return (ConfigValue, (self._data,))

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(self._data))


def _wrap(value: Any) -> Any:
    if isinstance(value, Mapping):
        return ConfigValue(value)
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


class DelayedEvaluator:
    """``cfg.a.b`` written in the class body: a path into a config, read once values exist."""

    def __init__(self, config: str, path: tuple[str, ...] = ()) -> None:
        self._config = config
        self._path = path

    def __getattr__(self, name: str) -> DelayedEvaluator:
        if name.startswith("__"):
            raise AttributeError(name)
        return DelayedEvaluator(self._config, self._path + (name,))

    def __getitem__(self, key: str) -> DelayedEvaluator:
        return DelayedEvaluator(self._config, self._path + (key,))

    def resolve(self, values: Mapping[str, Any]) -> Any:
        if self._config not in values:
            raise ParameterError(f"config_expr refers to an unknown config {self._config!r}")
        value: Any = values[self._config]
        for part in self._path:
            try:
                value = value[part]
            except (KeyError, TypeError, IndexError):
                dotted = ".".join((self._config, *self._path))
                raise ParameterError(
                    f"{dotted} is used in the flow but config {self._config!r} has no {part!r}"
                ) from None
        return value

    def __repr__(self) -> str:
        return "config_expr(" + repr(".".join((self._config, *self._path))) + ")"


def config_expr(expr: str) -> DelayedEvaluator:
    """``config_expr("cfg.model.depth")``: the same as writing ``cfg.model.depth`` in the class body."""
    head, *rest = expr.split(".")
    return DelayedEvaluator(head, tuple(rest))


def resolve_delayed(value: Any, values: Mapping[str, Any]) -> Any:
    """Replace delayed config expressions inside decorator arguments by their values."""
    if isinstance(value, DelayedEvaluator):
        return resolve_delayed(value.resolve(values), values)
    if isinstance(value, list | tuple):
        return type(value)(resolve_delayed(v, values) for v in value)
    if isinstance(value, dict):
        return {k: resolve_delayed(v, values) for k, v in value.items()}
    if isinstance(value, ConfigValue):
        return value.to_dict()
    return value


class Config(Parameter):
    """Settings for the flow as a JSON file or string, read before the command runs."""

    is_config = True

    def __init__(self, name: str, default: str | None = None, default_value: Any = None,
                 help: str | None = None, required: bool = False, parser: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(name, default=None, type=str, help=help, required=required)
        self.default_path = default
        self.default_value = default_value
        self.parser = parser

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        value = obj._read_parameter(self.attr)
        return ConfigValue(value) if isinstance(value, Mapping) else value

    def __getattr__(self, name: str) -> DelayedEvaluator:
        # Only reached for names that are not the Config's own attributes.
        if name.startswith("_") or name in ("attr", "name"):
            raise AttributeError(name)
        return DelayedEvaluator(self.attr, (name,))

    def __getitem__(self, key: str) -> DelayedEvaluator:
        return DelayedEvaluator(self.attr, (key,))

    def load(self, path: str | None = None, text: str | None = None) -> Any:
        """Read the value from ``text`` (inline), else ``path``, else the defaults."""
        if text is not None:
            return self._parse(text, f"--config-value {self.name}")
        where = path or self.default_path
        if where is not None:
            file = os.path.expanduser(where)
            if not os.path.isfile(file):
                how = f"--config {self.name} PATH" if path else f"default={where!r}"
                raise ParameterError(
                    f"Config {self.name!r}: the file {file!r} does not exist (from {how}, "
                    f"looked in {os.getcwd()}). Create it, or give another with --config {self.name} PATH."
                )
            with open(file, encoding="utf-8") as f:
                return self._parse(f.read(), file)
        if self.default_value is not None:
            dv = self.default_value
            return self._parse(dv, "default_value") if isinstance(dv, str) else dv
        if self.required:
            raise ParameterError(
                f"Config {self.name!r} is required: give --config {self.name} PATH or "
                f"--config-value {self.name} JSON before the command."
            )
        return None

    def _parse(self, text: str, source: str) -> Any:
        if self.parser is not None:
            return self.parser(text)
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ParameterError(
                f"Config {self.name!r} from {source} is not valid JSON: {exc.msg} at line "
                f"{exc.lineno} column {exc.colno}."
            ) from None


def flow_configs(flow_cls: type) -> list[Config]:
    seen: dict[str, Config] = {}
    for klass in reversed(flow_cls.__mro__):
        for attr, value in vars(klass).items():
            if isinstance(value, Config):
                seen[attr] = value
    return list(seen.values())
