"""``profile``: time a block of code, as Metaflow's ``profile`` does.

    with profile("load data"):          # prints "PROFILE: load data starting", then
        data = load()                   # "PROFILE: load data completed in 812ms"

    stats = {}
    for chunk in chunks:
        with profile("parse", stats_dict=stats):    # prints nothing; adds the milliseconds
            parse(chunk)                             # to stats["parse"]
"""

from __future__ import annotations

import time
from contextlib import contextmanager

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from collections.abc import Iterator


@contextmanager
def profile(label: str, stats_dict: dict[str, int] | None = None) -> Iterator[None]:
    """Print how long the block took in milliseconds, or add it to ``stats_dict[label]``."""
    if stats_dict is None:
        print(f"PROFILE: {label} starting")
    start = time.time()
    try:
        yield
    finally:
        took = int((time.time() - start) * 1000)
        if stats_dict is None:
            print(f"PROFILE: {label} completed in {took}ms")
        else:
            stats_dict[label] = stats_dict.get(label, 0) + took
