"""Run every benchmark, one after another, and print their figures together at the end.

    python -m bench [--smoke] [name ...]

Each benchmark is a script of its own (see bench/README.md) that starts what it needs and
measures its baseline in the same run; this only runs them and collects the lines that carry
a ratio or a target. ``--smoke`` runs each with tiny counts, to check that they still work
(the figures then mean nothing). Exits 1 if any benchmark could not run or found a page that
was wrong; a missed speed target is reported, not failed.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent

# name -> (arguments for the smoke run)
BENCHMARKS = {
    "save_path": ["--count", "500", "--pairs", "2", "--block", "125"],
    "commit_to_screen": ["--samples", "10"],
    "fanout": ["--sockets", "100", "--samples", "4", "--spacing", "0.5"],
    "burst": ["--changes", "1000", "--seconds", "2"],
    "refresh_cost": ["--rounds", "10"],
    "idle_memory": ["--sockets", "100"],
    "soak": ["--sockets", "20", "--rate", "50", "--seconds", "10"],
}


def is_figure(line: str) -> bool:
    words = ("target", "baseline", "floor", "bound")
    return any(word in line for word in words) or line.startswith(("soak:", "views exact"))


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("names", nargs="*", metavar="name", help=", ".join(BENCHMARKS))
    parser.add_argument("--smoke", action="store_true", help="tiny counts: does it still run?")
    args = parser.parse_args()
    names = args.names or list(BENCHMARKS)
    if unknown := set(names) - set(BENCHMARKS):
        parser.error(f"no benchmark named {', '.join(sorted(unknown))}")

    import django

    machine = (
        f"{os.cpu_count()} cores, Python {platform.python_version()}, Django {django.get_version()}"
    )
    print(f"benchmarks on {machine}{' (smoke run)' if args.smoke else ''}", flush=True)
    figures: dict[str, list[str]] = {}
    failed = []
    started = time.monotonic()
    for name in names:
        print(f"\n== {name}", flush=True)
        command = [sys.executable, str(BENCH / f"{name}.py")]
        command += BENCHMARKS[name] if args.smoke else []
        began = time.monotonic()
        with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
            for line in process.stdout:
                print(line, end="", flush=True)
                if is_figure(line):
                    figures.setdefault(name, []).append(line.strip())
        if process.returncode:
            failed.append(f"{name} (exit {process.returncode})")
        print(f"-- {name}: {time.monotonic() - began:.0f} s", flush=True)

    print(f"\n== figures ({machine}, {time.monotonic() - started:.0f} s in all)")
    for name in names:
        for line in figures.get(name, [f"{name}: no figures"]):
            print(line)
    if failed:
        print("failed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
