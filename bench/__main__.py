"""Runs every benchmark in turn: `python -m bench` (or `python -m bench listings`)."""

import importlib
import sys

BENCHMARKS = [
    "listings",
    "chat",
    "counting",
    "numbers",
    "searches",
    "accounts",
    "hangup",
    "layout",
]


def main(argv: list[str]) -> int:
    names = argv or BENCHMARKS
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        print(
            f"Unknown benchmark(s): {', '.join(unknown)}. Known: {', '.join(BENCHMARKS)}."
        )
        return 2
    status = 0
    for name in names:
        module_name = f"bench.{name}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise
            print(f"bench.{name}: not present, skipped.")
            continue
        print(f"== bench.{name} ==")
        status = module.main([]) or status
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
