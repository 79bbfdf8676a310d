"""P7 (design.md §7): ``import_beheerders`` with 5,000 rows, beside the same import of 500 rows.

The CSV is generated (every row a new onderwijsinstelling with its beheerder, beheerautorisatie VO),
the command runs in-process against a scratch database with a Redis broker on loopback (the
welcome mails are queued there, no worker), letters go to a temporary directory. The 500-row
import is the baseline: 10× the rows should take about 10× the time.

    .venv/bin/python -m bench.p7_import [--rows 5000] [--small 500] [--rounds 2]
"""

import argparse
import csv
import string
import tempfile
import time
from pathlib import Path

from bench.common import django_setup, redis_server, scratch_database, summary, write_result

DB_NAME = "mijnduo_bench_p7"
COLUMNS = (
    "organisatie_type,organisatie_type_anders,organisatie_naam,straat,huisnummer,postcode,woonplaats,"
    "instellingscode,bestuursnummer,gemeentecode,crediteurnummer,kvk_nummer,rsin,beheerder_naam,"
    "beheerder_functie,beheerder_telefoon,beheerder_email,beheerautorisaties,taal"
).split(",")


def csv_write(path: Path, *, rows: int, offset: int) -> Path:
    letters = string.ascii_uppercase
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for n in range(offset, offset + rows):
            code = f"{n // 676 % 100:02d}{letters[n // 26 % 26]}{letters[n % 26]}"
            writer.writerow(
                {
                    "organisatie_type": "onderwijsinstelling",
                    "organisatie_naam": f"Bench School {n:05d}",
                    "straat": "Schoolstraat",
                    "huisnummer": str(n % 200 + 1),
                    "postcode": "9712 AB",
                    "woonplaats": "Groningen",
                    "instellingscode": code,
                    "bestuursnummer": f"{10000 + n % 90000:05d}",
                    "kvk_nummer": f"{40000000 + n:08d}",
                    "beheerder_naam": f"Beheerder {n:05d}",
                    "beheerder_functie": "Hoofd administratie",
                    "beheerder_telefoon": "050 123 4567",
                    "beheerder_email": f"beheerder{n}@school{n}.example",
                    "beheerautorisaties": "vo",
                    "taal": "nl",
                }
            )
    return path


def time_import(*, rows: int, offset: int, directory: Path) -> float:
    from django.core.management import call_command

    from accounts.models import Account

    before = Account.objects.count()
    path = csv_write(directory / f"beheerders-{offset}.csv", rows=rows, offset=offset)
    started = time.perf_counter()
    call_command(
        "import_beheerders",
        str(path),
        letters_dir=directory / f"letters-{offset}",
        stdout=open("/dev/null", "w"),
    )
    elapsed = time.perf_counter() - started
    created = Account.objects.count() - before
    assert created == rows, (created, rows)
    return elapsed


def run(*, rows: int, small: int, rounds: int) -> dict:
    scratch_database(DB_NAME)
    try:
        with redis_server() as redis_url, tempfile.TemporaryDirectory(prefix="mijnduo-bench-p7-") as tmp:
            django_setup(
                DB_NAME,
                CELERY_BROKER_URL=f"{redis_url}/0",
                REDIS_URL=f"{redis_url}/1",
                CELERY_TASK_ALWAYS_EAGER="0",
            )
            directory = Path(tmp)
            time_import(rows=20, offset=60000, directory=directory)  # warm up
            large, baseline, offset = [], [], 0
            for number in range(rounds):
                baseline.append(time_import(rows=small, offset=offset, directory=directory))
                offset += small
                large.append(time_import(rows=rows, offset=offset, directory=directory))
                offset += rows
                print(
                    f"P7 round {number + 1}: {small} rows {baseline[-1]:.1f} s, {rows} rows {large[-1]:.1f} s",
                    flush=True,
                )
            return {
                "rows": rows,
                "small_rows": small,
                "seconds": summary(large),
                "small_seconds": summary(baseline),
                "rows_per_second": summary([rows / s for s in large]),
                "scaling": summary([lg / sm for lg, sm in zip(large, baseline, strict=True)]),
                "pass": sorted(large)[len(large) // 2] <= 60,
            }
    finally:
        from django.db import connections

        connections.close_all()
        scratch_database(DB_NAME, drop_only=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--small", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json")
    args = parser.parse_args()
    write_result(args.json, run(rows=args.rows, small=args.small, rounds=args.rounds))


if __name__ == "__main__":
    main()
