"""P4 (design.md §7) for the suite: bench/p4_unlink.py's measurement, repeated, as one result.

Per round: the per-row loop over ``--loop`` stale links (the baseline, seconds per link), then
the set-based job at each size (100,000 and 1,000,000 links, 10% stale). The figures: seconds at
1M, the ratio to the loop extrapolated to the same links, linearity (time ratio / size ratio) and
batch growth at 1M (last full batch / first batch: 1.0 when a batch costs the same wherever it falls).

    .venv/bin/python -m bench.p4 [--rounds 2] [--sizes 100000,1000000] [--loop 1000]
"""

import argparse

from bench import p4_unlink
from bench.common import summary, write_result


def run(*, rounds: int, sizes: list[int], loop: int) -> dict:
    p4_unlink.scratch_database()
    try:
        p4_unlink.django_setup()
        per_round = []
        for number in range(rounds):
            per_link = p4_unlink.time_loop(stale=loop)
            timings = {}
            large, small = max(sizes), min(sizes)
            batches = []
            for size in sizes:
                seconds, undone = p4_unlink.time_bulk(links=size, batches=batches if size == large else None)
                timings[size] = (seconds, undone)
            full = batches[:-1]  # the last batch is the partial (or empty) one that ends the run
            seconds, undone = timings[large]
            figures = {
                "seconds": seconds,
                "undone": undone,
                "loop_ms_per_link": per_link * 1000,
                "ratio": per_link * undone / seconds,
                "linearity": (timings[large][0] / timings[small][0]) / (large / small),
                "small_seconds": timings[small][0],
                "batch_growth": full[-1] / full[0] if full else 1.0,
            }
            per_round.append(figures)
            print(
                f"P4 round {number + 1}: {large:,} links ({undone:,} undone) in {seconds:.1f} s, "
                f"{small:,} in {timings[small][0]:.2f} s; per-row loop {per_link * 1000:.2f} ms/link → "
                f"{figures['ratio']:.0f}× faster; linearity {figures['linearity']:.2f}, "
                f"batch growth {figures['batch_growth']:.2f}",
                flush=True,
            )
        return {
            "links": max(sizes),
            "small_links": min(sizes),
            "loop_links": loop,
            "seconds": summary([r["seconds"] for r in per_round]),
            "small_seconds": summary([r["small_seconds"] for r in per_round]),
            "loop_ms_per_link": summary([r["loop_ms_per_link"] for r in per_round]),
            "ratio": summary([r["ratio"] for r in per_round]),
            "linearity": summary([r["linearity"] for r in per_round]),
            "batch_growth": summary([r["batch_growth"] for r in per_round]),
            "undone": per_round[0]["undone"],
            "pass": all(r["seconds"] <= 10 and r["ratio"] >= 50 for r in per_round),
        }
    finally:
        from django.db import connections

        connections.close_all()
        p4_unlink.scratch_database(drop_only=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--loop", type=int, default=1000)
    parser.add_argument("--json")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    write_result(args.json, run(rounds=args.rounds, sizes=sizes, loop=args.loop))


if __name__ == "__main__":
    main()
