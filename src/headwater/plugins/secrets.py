"""``@secrets(sources=[...])``: secrets as environment variables of a step's process.

Each source is a dict ``{"type": ..., "id": ..., "options": {...}}`` (Metaflow's spelling) with
one of the local providers:

    @secrets(sources=[{"type": "inline", "id": "db",
                       "options": {"env_vars": {"DB_PASSWORD": "..."}}}])
    @secrets(sources=[{"type": "file", "id": "/home/me/.config/flow.env"}])

- ``inline``: the variables given in ``options["env_vars"]`` (for tests and local runs).
- ``file``: a file of ``NAME=value`` lines (blank lines and ``#`` comments skipped), or a JSON
  object of names to values when the file name ends in ``.json``; read when the task starts.

A source given as a bare string, or of a cloud provider's type (AWS Secrets Manager, ...),
is refused before the run starts: those providers are not available in Headwater. As in
Metaflow, a secret may not overwrite a variable already set, nor may two sources set the same
name: the task fails naming the variable.
"""

from __future__ import annotations

import json
import os

from ..decorators import BadDecoratorArgument, StepDecorator
from ..exceptions import StepError

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any

PROVIDERS = ("inline", "file")


class SecretsError(StepError):
    headline = "A secret could not be set"


class secrets(StepDecorator):  # noqa: N801
    name = "secrets"
    defaults = {"sources": [], "role": None}

    def step_init(self, *, flow: Any, graph: Any, step_name: str) -> None:
        where = f"@secrets on step {step_name!r}"
        sources = self.attributes["sources"]
        if not isinstance(sources, list | tuple):
            raise BadDecoratorArgument(f"{where}: sources must be a list of sources, got {sources!r}.")
        for source in sources:
            if isinstance(source, str):
                raise BadDecoratorArgument(
                    f"{where}: the source {source!r} names a secret of a cloud secrets manager, "
                    "which Headwater does not have yet. Local providers: "
                    "{'type': 'inline', 'options': {'env_vars': {...}}} or {'type': 'file', 'id': PATH}.")
            if not isinstance(source, dict) or source.get("type") not in PROVIDERS:
                kind = source.get("type") if isinstance(source, dict) else source
                raise BadDecoratorArgument(
                    f"{where}: secrets provider {kind!r} is not available in Headwater; "
                    f"local providers: {', '.join(PROVIDERS)}.")
            if source["type"] == "inline":
                env = (source.get("options") or {}).get("env_vars")
                if not isinstance(env, dict) or not all(isinstance(k, str) for k in env):
                    raise BadDecoratorArgument(
                        f"{where}: an inline source gives options={{'env_vars': {{NAME: value}}}}.")
            elif not isinstance(source.get("id"), str) or not source["id"]:
                raise BadDecoratorArgument(f"{where}: a file source gives the file's path as id.")

    def task_pre_step(self, *, flow: Any, step_name: str, retry_count: int, max_retries: int) -> None:
        found: dict[str, str] = {}
        for source in self.attributes["sources"]:
            for name, value in _read(source).items():
                if name in found:
                    raise SecretsError(f"@secrets on step {step_name!r}: two sources set {name}.")
                if name in os.environ:
                    raise SecretsError(
                        f"@secrets on step {step_name!r}: {name} is already set in the environment; "
                        "a secret does not overwrite it.")
                found[name] = value
        os.environ.update(found)


def _read(source: dict[str, Any]) -> dict[str, str]:
    if source["type"] == "inline":
        return {k: str(v) for k, v in source["options"]["env_vars"].items()}
    path = os.path.expanduser(source["id"])
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise SecretsError(f"@secrets: cannot read {path}: {exc.strerror}.") from None
    if path.endswith(".json"):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise SecretsError(f"@secrets: {path} is not valid JSON: {exc}.") from None
        if not isinstance(data, dict):
            raise SecretsError(f"@secrets: {path} must hold a JSON object of names to values.")
        return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}
    out = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.removeprefix("export ").partition("=")
        if not sep or not name.strip():
            raise SecretsError(f"@secrets: {path} line {number} is not NAME=value.")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[name.strip()] = value
    return out
