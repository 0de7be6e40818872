"""Headwater: write a project as a flow of steps; run it, inspect it, resume it, scale it.

    from headwater import FlowSpec, step, Parameter, current

The names below are loaded on first use, so ``import headwater`` stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType as _ModuleType

__version__ = "0.1.0"

# Imported eagerly (both are tiny). `headwater.current` is always the object, never the
# submodule of the same name. `metadata` names two things, as in Metaflow: the subpackage of
# run records and Metaflow's `metadata("local@/path")`, which picks the records the client
# reads; the subpackage (its names load on first use) is made callable, so it is both.
from . import metadata as _records  # noqa: E402
from .current import current  # noqa: E402, F401


class _MetadataPackage(_ModuleType):
    def __call__(self, ms: str) -> str:
        """Read runs from the provider ``ms`` (``local@/path``); see ``headwater.client.metadata_provider``."""
        from .client.metadata_provider import metadata

        return metadata(ms)


_records.__class__ = _MetadataPackage

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any

_EXPORTS: dict[str, str] = {
    # flow model
    "FlowSpec": "headwater.flowspec",
    "step": "headwater.decorators",
    "StepDecorator": "headwater.decorators",
    "Parameter": "headwater.parameters",
    "JSONType": "headwater.parameters",
    "IncludeFile": "headwater.parameters",
    "Config": "headwater.configs",
    "config_expr": "headwater.configs",
    # step decorators
    "retry": "headwater.plugins.retry",
    "catch": "headwater.plugins.catch",
    "timeout": "headwater.plugins.timeout",
    "resources": "headwater.plugins.resources",
    "environment": "headwater.plugins.environment",
    "card": "headwater.plugins.card",
    "secrets": "headwater.plugins.secrets",
    "ray": "headwater.plugins.ray",
    "parallel": "headwater.plugins.parallel",
    "get_cards": "headwater.cards",
    # user-defined decorators and mutators, flow hooks
    "user_step_decorator": "headwater.user_decorators",
    "UserStepDecorator": "headwater.user_decorators",
    "StepMutator": "headwater.user_decorators",
    "FlowMutator": "headwater.user_decorators",
    "USER_SKIP_STEP": "headwater.user_decorators",
    "exit_hook": "headwater.exit_hook",
    # data in S3
    "S3": "headwater.s3",
    # client
    "Metaflow": "headwater.client",
    "Flow": "headwater.client",
    "Run": "headwater.client",
    "Step": "headwater.client",
    "Task": "headwater.client",
    "DataArtifact": "headwater.client",
    "namespace": "headwater.client",
    "get_namespace": "headwater.client",
    "default_namespace": "headwater.client",
    "get_metadata": "headwater.client.metadata_provider",
    "default_metadata": "headwater.client.metadata_provider",
    # helpers
    "ConfigValue": "headwater.configs",
    "parallel_map": "headwater.multicore",
    "parallel_imap_unordered": "headwater.multicore",
    "profile": "headwater.profiling",
    # errors
    "HeadwaterException": "headwater.exceptions",
}

# Metaflow's top-level names of capabilities Headwater does not have yet: importing one says
# which feature it is, instead of a bare "cannot import name".
_RUNNER = ("the Runner API (starting runs from Python)",
           "Meanwhile, start runs with `python flow.py run`.")
_DEPLOYER = ("the Deployer API (deploying flows to production schedulers)", "")
_ENVIRONMENTS = ("@pypi/@conda (packages per step)",
                 "Meanwhile, steps use the packages of the interpreter that runs the flow.")
_NOT_YET: dict[str, tuple[str, str]] = {
    "Runner": _RUNNER, "NBRunner": _RUNNER,
    "Deployer": _DEPLOYER, "DeployedFlow": _DEPLOYER, "NBDeployer": _DEPLOYER,
    "project": ("@project (isolated production namespaces)", ""),
    "schedule": ("@schedule (runs on a production scheduler)", ""),
    "trigger": ("@trigger (starting runs on events)", ""),
    "trigger_on_finish": ("@trigger_on_finish (starting runs when another flow finishes)", ""),
    "pypi": _ENVIRONMENTS, "conda": _ENVIRONMENTS, "pypi_base": _ENVIRONMENTS,
    "conda_base": _ENVIRONMENTS,
    "kubernetes": ("@kubernetes (running steps on Kubernetes)", ""),
    "batch": ("@batch (running steps on AWS Batch)", ""),
    "pytorch_parallel": ("@pytorch_parallel (multi-node steps)", ""),
    "airflow_external_task_sensor": ("Airflow sensors", ""),
    "airflow_s3_key_sensor": ("Airflow sensors", ""),
    "inspect_spin": ("spin (running one step on its own)", ""),
}


class NotAvailableYetError(ImportError):
    """``from headwater import X`` of a Metaflow name whose capability is not here yet."""


__all__ = sorted([*_EXPORTS, "current", "metadata"]) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        if name in _NOT_YET:
            feature, hint = _NOT_YET[name]
            raise NotAvailableYetError(
                f"cannot import {name!r} from headwater: Metaflow's {feature} is not available "
                f"in Headwater yet. {hint}".rstrip(), name=name, path=__file__)
        raise AttributeError(f"module 'headwater' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
