"""The options of ``python flow.py ...``, declared once, and a quick parser for the common case.

The flow file's command line is click (``flow_cli.py``): it writes the help, the usage and
the error messages. Importing and building it costs tens of milliseconds, though, which is
a large share of running a small flow. So ``run``, ``resume`` and ``check`` command lines
made only of known options with valid values are parsed here, without click; anything else
(``--help``, a typo, a bad value, another command) returns None and goes to click, which
then explains the problem. Both read the same tables below, and a test checks that they
agree on every kind of command line.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any


class Opt:
    """One option: its flags, where its value goes, how it is read and checked."""

    __slots__ = ("flags", "dest", "kind", "default", "multiple", "nargs", "minimum", "choices",
                 "help", "metavar", "envvar")

    def __init__(self, flags: tuple[str, ...], dest: str, help: str, *, kind: str = "str",
                 default: Any = None, multiple: bool = False, nargs: int = 1,
                 minimum: float | None = None, choices: tuple[str, ...] = (),
                 metavar: str | None = None, envvar: str | None = None) -> None:
        self.flags = flags
        self.dest = dest
        self.kind = kind  # str, int, float, flag (no value), switch (--x/--no-x), choice
        self.default = default
        self.multiple = multiple
        self.nargs = nargs
        self.minimum = minimum
        self.choices = choices
        self.help = help
        self.metavar = metavar
        self.envvar = envvar

    def convert(self, text: str) -> Any:
        """The value of ``text``, or ValueError when click would refuse it."""
        if self.kind == "int":
            value: Any = int(text)
        elif self.kind == "float":
            value = float(text)
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError(text)  # nan or inf: click refuses them too (see flow_cli)
        elif self.kind == "choice":
            if text not in self.choices:
                raise ValueError(text)
            return text
        else:
            return text
        if self.minimum is not None and value < self.minimum:
            raise ValueError(text)
        return value


GROUP_OPTIONS = (
    Opt(("--config",), "configs", "Read the Config NAME from the JSON file PATH.",
        nargs=2, multiple=True, metavar="NAME PATH"),
    Opt(("--config-value",), "config_values", "Give the Config NAME as an inline JSON string.",
        nargs=2, multiple=True, metavar="NAME JSON"),
    Opt(("--datastore",), "datastore",
        "Where artifacts, logs and cards go: local (the .headwater directory) or s3.",
        kind="choice", choices=("local", "s3"), envvar="HEADWATER_DEFAULT_DATASTORE"),
    Opt(("--datastore-root",), "datastore_root",
        "The .headwater directory to use (default: nearest one upwards, else ./.headwater); "
        "with --datastore s3, s3://bucket/prefix (default: HEADWATER_DATASTORE_SYSROOT_S3).",
        envvar="HEADWATER_HOME"),
    Opt(("--with",), "decospecs", "Add a decorator to every step, e.g. --with retry:times=2.",
        multiple=True, metavar="DECORATOR"),
    Opt(("--quiet",), "quiet", "Print only the summary, not the tasks' output.", kind="flag"),
    # Metaflow's other top-level options, so that its command lines work unchanged. A value
    # that needs a capability Headwater does not have yet stops with a clear message
    # (``commands.check_group_options``).
    Opt(("--metadata",), "metadata",
        "Where runs are recorded: local (the .headwater directory) or service (the metadata "
        "service at HEADWATER_SERVICE_URL, with HEADWATER_SERVICE_AUTH_KEY).",
        kind="choice", default="local", choices=("local", "service"), envvar="HEADWATER_DEFAULT_METADATA"),
    Opt(("--environment",), "environment",
        "Where steps find their packages: local (this interpreter). conda, pypi and uv "
        "environments are not available yet.",
        kind="choice", default="local", choices=("local", "conda", "pypi", "uv")),
    Opt(("--event-logger",), "event_logger", "Accepted for Metaflow compatibility; no effect.",
        kind="choice", default="nullSidecarLogger", choices=("nullSidecarLogger", "debugLogger")),
    Opt(("--monitor",), "monitor", "Accepted for Metaflow compatibility; no effect.",
        kind="choice", default="nullSidecarMonitor", choices=("nullSidecarMonitor", "debugMonitor")),
    Opt(("--pylint", "--no-pylint"), "pylint",
        "Accepted for Metaflow compatibility; no effect (Headwater's own checks always run).",
        kind="switch", default=True),
)

RUN_OPTIONS = (
    Opt(("--tag",), "tags", "Tag the run (repeatable).", multiple=True),
    Opt(("--max-workers",), "max_workers", "How many tasks may run at once.",
        kind="int", default=16, minimum=1, envvar="HEADWATER_MAX_WORKERS"),
    Opt(("--max-num-splits",), "max_num_splits", "The most tasks one foreach may start.",
        kind="int", default=100, minimum=1, envvar="HEADWATER_MAX_NUM_SPLITS"),
    Opt(("--max-cpu",), "max_cpu",
        "Run tasks at once only while their @resources(cpu=...) fit in this many CPUs.",
        kind="float", minimum=0.1),
    Opt(("--max-memory",), "max_memory", "Likewise for @resources(memory=...), in MB.",
        kind="float", minimum=1),
    Opt(("--run-id-file",), "run_id_file", "Write the run id to this file."),
    Opt(("--quiet",), "quiet", "Print only the summary, not the tasks' output.", kind="flag"),
    Opt(("--executor",), "executor",
        "fork: warm isolated processes; subprocess: a fresh interpreter per task; "
        "inprocess: one at a time, for pdb.",
        kind="choice", default="fork", choices=("fork", "subprocess", "inprocess"),
        envvar="HEADWATER_EXECUTOR"),
)

RESUME_OPTIONS = (
    Opt(("--origin-run-id",), "origin_run_id", "The run to resume (default: your latest)."),
    *RUN_OPTIONS,
)


def parameter_flags(param: Any) -> tuple[str, ...]:
    """``--learning_rate`` and its dashed twin ``--learning-rate``."""
    names = [f"--{param.name}"]
    if "_" in param.name:
        names.append("--" + param.name.replace("_", "-"))
    return tuple(names)


class Invocation:
    """What one command line asks for, whichever parser read it."""

    def __init__(self, command: str, group: dict[str, Any], options: dict[str, Any],
                 params: dict[str, str | None] | None = None, step: str | None = None) -> None:
        self.command = command
        self.group = group  # GROUP_OPTIONS by dest
        self.options = options  # the command's options by dest
        self.params = params or {}  # run: flow parameter name -> text given (None: not given)
        self.step = step  # resume: the step to resume from

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Invocation) and vars(self) == vars(other)

    def __repr__(self) -> str:
        return f"Invocation({vars(self)!r})"


def defaults(opts: tuple[Opt, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for opt in opts:
        if opt.multiple:
            out[opt.dest] = ()
        elif opt.kind == "flag":
            out[opt.dest] = False
        elif opt.kind == "switch":
            out[opt.dest] = opt.default
        elif opt.envvar and os.environ.get(opt.envvar):
            try:
                out[opt.dest] = opt.convert(os.environ[opt.envvar])
            except ValueError:
                raise _Unsure from None  # click names the variable and the problem
        else:
            out[opt.dest] = opt.default
    return out


class _Unsure(Exception):
    """The quick parser leaves this command line to click."""


def quick_parse(argv: list[str], parameters: list[Any]) -> Invocation | None:
    """An Invocation for a plain ``run``/``resume``/``check`` command line, else None."""
    try:
        return _parse(argv, parameters)
    except _Unsure:
        return None


def group_options(argv: list[str]) -> dict[str, Any] | None:
    """The options before the command (``--config``, ``--with``...), or None when unsure."""
    args = list(argv)
    group = defaults(GROUP_OPTIONS)
    table = _table(GROUP_OPTIONS)
    try:
        while args and args[0].startswith("-"):
            _take(args, table, group)
    except (_Unsure, ValueError):
        return None
    return group


def _parse(argv: list[str], parameters: list[Any]) -> Invocation:
    args = list(argv)
    group = defaults(GROUP_OPTIONS)
    group_table = _table(GROUP_OPTIONS)
    while args and args[0].startswith("-"):
        _take(args, group_table, group)
    if not args:
        raise _Unsure
    command = args.pop(0)
    if command == "check":
        if args:
            raise _Unsure
        return Invocation("check", group, {})
    if command == "run":
        opts = RUN_OPTIONS
    elif command == "resume":
        opts = RESUME_OPTIONS
    else:
        raise _Unsure
    options = defaults(opts)
    table = _table(opts)
    flags: dict[str, Any] = {}
    if command == "run":
        for param in parameters:
            for flag in parameter_flags(param):
                flags[flag] = param
    params: dict[str, str | None] = {p.name: None for p in parameters} if command == "run" else {}
    step: str | None = None
    while args:
        token = args[0]
        name = token.split("=", 1)[0]
        if name in table:
            _take(args, table, options)
        elif name in flags:
            args.pop(0)
            params[flags[name].name] = _param_value(token, args, flags[name])
        elif command == "resume" and step is None and not token.startswith("-"):
            step = args.pop(0)
        else:
            raise _Unsure
    return Invocation(command, group, options, params if command == "run" else None, step)


def _table(opts: tuple[Opt, ...]) -> dict[str, Opt]:
    return {flag: opt for opt in opts for flag in opt.flags}


def _take(args: list[str], table: dict[str, Opt], into: dict[str, Any]) -> None:
    token = args.pop(0)
    name, eq, inline = token.partition("=")
    opt = table.get(name)
    if opt is None:
        raise _Unsure
    if opt.kind in ("flag", "switch"):
        if eq:
            raise _Unsure
        into[opt.dest] = opt.kind == "flag" or name == opt.flags[0]  # switch: --x / --no-x
        return
    if eq:
        if opt.nargs != 1:
            raise _Unsure
        texts = [inline]
    else:
        if len(args) < opt.nargs or any(a.startswith("-") for a in args[:opt.nargs]):
            raise _Unsure  # a missing value, or one that looks like an option: click decides
        texts = [args.pop(0) for _ in range(opt.nargs)]
    try:
        values = [opt.convert(t) for t in texts]
    except ValueError:
        raise _Unsure from None
    value = values[0] if opt.nargs == 1 else tuple(values)
    into[opt.dest] = (*into[opt.dest], value) if opt.multiple else value


def _param_value(token: str, args: list[str], param: Any) -> str:
    _, eq, inline = token.partition("=")
    if eq:
        return inline
    if param.type is bool and (not args or args[0].startswith("-")):
        return "true"  # a bare boolean flag, as click's flag_value
    if not args or args[0].startswith("-"):
        raise _Unsure
    return args.pop(0)
