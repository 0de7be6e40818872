"""What checking every blob against its key costs on load: the same loads with and without it.

    python bench/hash_cost.py                # a 1 GiB float64 array and a small value
    python bench/hash_cost.py --quick        # 128 MiB
    python bench/hash_cost.py --dir /mnt/x   # the datastore on another disk (default: a temp dir)

Stores a random (incompressible) float64 array, as the bigarray workload does, and a small
dict, in a fresh local datastore; then loads each alternately with the check
(``BlobStore.load``, as every reader does) and without it (``verify=False``, which nothing but
this script uses), in the same process, one warm-up each then ``--reps`` times. The file is in
the page cache, so the numbers are the CPU's work, where the hash weighs most. Prints the
median (min-max) of each and the difference.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time

import numpy as np
import xxhash

from headwater.datastore import BlobStore, LocalStorage

SMALL_LOADS = 2000


def timed(fn, reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        gc.collect()
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def show(samples: list[float], scale: float, unit: str) -> str:
    med = statistics.median(samples) * scale
    return f"{med:.1f} {unit} ({min(samples) * scale:.1f}–{max(samples) * scale:.1f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a 128 MiB array instead of 1 GiB")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--dir", default=None, help="where to make the datastore")
    args = ap.parse_args()
    mib = 128 if args.quick else 1024
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="hw-hash-cost-") as root:
        store = BlobStore(LocalStorage(root))
        array = np.random.default_rng(0).random(mib * (1 << 20) // 8)
        big = store.save(array)
        del array
        small = store.save({"accuracy": 0.91, "labels": list(range(100))})

        def load_big(verify: bool):
            def go():
                value = store.load(big.key, size=big.size, verify=verify)
                del value

            return go

        def load_small(verify: bool):
            def go():
                for _ in range(SMALL_LOADS):
                    store.load(small.key, size=small.size, verify=verify)

            return go

        big_on, big_off, small_on, small_off = [], [], [], []
        for fn in (load_big(True), load_big(False), load_small(True), load_small(False)):
            fn()  # warm-up: page cache, imports
        for _ in range(args.reps):  # alternate, so drift on the machine hits both alike
            big_on += timed(load_big(True), 1)
            big_off += timed(load_big(False), 1)
            small_on += timed(load_small(True), 1)
            small_off += timed(load_small(False), 1)
        with open(store.storage.path(big.key), "rb") as f:
            data = f.read()
        hash_only = timed(lambda: xxhash.xxh3_128_hexdigest(data), args.reps)
    on, off = statistics.median(big_on), statistics.median(big_off)
    per_on = statistics.median(small_on) / SMALL_LOADS
    per_off = statistics.median(small_off) / SMALL_LOADS
    cpu = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    print(f"{cpu or 'CPU ?'}, {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
          f"xxhash {xxhash.VERSION}; median (min–max) of {args.reps}")
    print(f"{mib} MiB float64 array, load: checked {show(big_on, 1e3, 'ms')}, "
          f"unchecked {show(big_off, 1e3, 'ms')}; the check adds {(on - off) * 1e3:+.1f} ms "
          f"({(on / off - 1) * 100:+.1f}%)")
    print(f"  xxh3-128 alone over the same bytes in memory: {show(hash_only, 1e3, 'ms')} "
          f"({len(data) / statistics.median(hash_only) / 1e9:.1f} GB/s)")
    print(f"small value ({small.size} bytes), load: checked {per_on * 1e6:.1f} µs, "
          f"unchecked {per_off * 1e6:.1f} µs; the check adds {(per_on - per_off) * 1e6:+.2f} µs")


if __name__ == "__main__":
    main()
