"""P8 (design.md §7): a beheerder's bulk registration, and her gebruikersbestand of 10,000 users.

Bulk registration: a CSV of 300 users with two roles each goes the beheerder's way in-process
(Django's test client, the full middleware stack): POST the file, GET the preview, POST the
confirmation (the Celery task is published to a Redis broker on loopback), then the task's work
runs in this process as a worker would run it, until every row is registered with its roles and
its confirmation mail is in the outbox and published. Timed from the upload to the end of the task.
Baseline in the same run: the same 300 users registered one at a time through the same services
(``gebruiker_register`` + ``rol_assign`` twice per user), with no HTTP, no preview, no task.

Gebruikersbestand: an organisation of 10,000 users (P3's: two roles each, a quarter linked, codes,
blocks, one in twenty removed and so not in the file) exported from gunicorn on loopback (the
production server config), one request at a time: time to the first byte of the body, to the first
user row, and to the end, for CSV and XLSX (both streamed). Baselines in the same server: the bare view behind the same login (bench/urls.py), and the export of an
organisation of 1,000 users (10× fewer rows should cost about 10× less).

    .venv/bin/python -m bench.p8_bulk [--users 300] [--rounds 3] [--export-users 10000]
"""

import argparse
import http.client
import io
import time

from bench.common import (
    bench_env,
    django_setup,
    gunicorn,
    redis_server,
    scratch_database,
    session_cookie,
    summary,
    write_result,
)

DB_NAME = "mijnduo_bench_p8"
PORT = 18080


def _organisation():
    from tests.factories import KenmerkFactory, OrganisatieFactory, beheerder_create

    organisatie = OrganisatieFactory()
    beheerder = beheerder_create("vo", organisatie=organisatie, name="Bea Beheer")
    kenmerk = KenmerkFactory(organisatie=organisatie, waarde=organisatie.instellingscode)
    return beheerder, kenmerk


def _csv(*, users: int, kenmerk: str, tag: str) -> bytes:
    lines = ["naam;functie;e-mail;telefoon;taal;rol 1;kenmerk 1;rol 2;kenmerk 2"]
    for n in range(users):
        lines.append(
            f"Nieuwe Collega {tag} {n:04d};Docent;collega{n}.{tag}@school.example;050 123 {n:04d};nl;"
            f"osr;{kenmerk};verzuimmelder;{kenmerk}"
        )
    return ("\n".join(lines) + "\n").encode("utf-8")


def _bulk_round(*, users: int, tag: str) -> float:
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client

    from accounts.models import Account, EmailOutbox, RolToekenning
    from beheer.bulk import gebruikers_upload_run
    from koppeling.backends import EHERKENNING_BACKEND

    beheerder, kenmerk = _organisation()
    client = Client()
    client.force_login(beheerder, backend=EHERKENNING_BACKEND)
    data = _csv(users=users, kenmerk=kenmerk.waarde, tag=tag)
    started = time.perf_counter()
    response = client.post(
        "/beheer/gebruikers/aanmelden/bestand/", {"file": SimpleUploadedFile("nieuw.csv", data, "text/csv")}
    )
    assert response.status_code == 302, response.status_code
    detail = response["Location"]
    upload_id = detail.rstrip("/").rsplit("/", 1)[-1]
    preview = client.get(detail)
    assert preview.status_code == 200, preview.status_code
    confirmed = client.post(detail, {})
    assert confirmed.status_code == 302, confirmed.status_code
    gebruikers_upload_run(upload_id=upload_id)  # the worker's part
    elapsed = time.perf_counter() - started
    registered = Account.objects.filter(organisatie_id=beheerder.organisatie_id).exclude(pk=beheerder.pk)
    assert registered.count() == users, registered.count()
    assert RolToekenning.objects.filter(account__in=registered).count() == 2 * users
    assert (
        EmailOutbox.objects.filter(account__in=registered, template="beheer/email/registered").count()
        == users
    )
    return elapsed


def _baseline_round(*, users: int, tag: str) -> float:
    from accounts.models import Rol
    from beheer import services

    beheerder, kenmerk = _organisation()
    rollen = [Rol.objects.get(code="osr"), Rol.objects.get(code="verzuimmelder")]
    started = time.perf_counter()
    for n in range(users):
        account = services.gebruiker_register(
            beheerder=beheerder,
            name=f"Nieuwe Collega {tag} {n:04d}",
            email=f"collega{n}.{tag}@school.example",
            job_title="Docent",
            phone=f"050 123 {n:04d}",
            language="nl",
        )
        for rol in rollen:
            services.rol_assign(beheerder=beheerder, account=account, rol=rol, kenmerk=kenmerk)
    return time.perf_counter() - started


def _export_organisation(users: int):
    """P3's organisation with history: two roles each, links, unlinks, codes, blocks, removed users."""
    from bench.p2_p3_web import _organisation_with_users

    beheerder, _rol, _kenmerk = _organisation_with_users(users)
    return beheerder


def _fetch(port: int, path: str, cookie: str) -> dict:
    """One GET: ms to the first body byte, to the first data line (CSV), to the end; bytes."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    started = time.perf_counter()
    connection.request("GET", path, headers={"Cookie": cookie})
    response = connection.getresponse()
    assert response.status == 200, (path, response.status)
    first = response.read(1)
    first_byte = time.perf_counter() - started
    body = io.BytesIO(first)
    first_row = None
    while chunk := response.read1(65536):
        body.write(chunk)
        if first_row is None and body.getvalue().count(b"\n") >= 2:
            first_row = time.perf_counter() - started
    complete = time.perf_counter() - started
    connection.close()
    return {
        "first_byte_ms": first_byte * 1000,
        "first_row_ms": (first_row or complete) * 1000,
        "complete_ms": complete * 1000,
        "bytes": len(body.getvalue()),
    }


def run(*, users: int, rounds: int, export_users: int) -> dict:
    scratch_database(DB_NAME)
    try:
        with redis_server() as redis_url:
            django_setup(
                DB_NAME,
                CELERY_BROKER_URL=f"{redis_url}/0",
                REDIS_URL=f"{redis_url}/1",
                CELERY_TASK_ALWAYS_EAGER="0",
            )
            _bulk_round(users=20, tag="warm")
            _baseline_round(users=20, tag="warmb")
            bulk, baseline = [], []
            for number in range(rounds):
                bulk.append(_bulk_round(users=users, tag=f"b{number}"))
                baseline.append(_baseline_round(users=users, tag=f"s{number}"))
                print(
                    f"P8 bulk round {number + 1}: {users} users upload→registered {bulk[-1]:.2f} s; "
                    f"one at a time through the services {baseline[-1]:.2f} s",
                    flush=True,
                )
            from bench.common import analyze

            big = _export_organisation(export_users)
            small = _export_organisation(export_users // 10)
            analyze()
            cookies = {
                "big": session_cookie(big, page="/beheer/"),
                "small": session_cookie(small, page="/beheer/"),
            }
            from django.db import connections

            connections.close_all()
            export = {key: [] for key in ("csv_big", "csv_small", "xlsx_big", "xlsx_small", "bare_login")}
            with gunicorn(bench_env(DB_NAME), port=PORT):
                paths = {
                    "csv": "/beheer/gebruikersbestand/?format=csv",
                    "xlsx": "/beheer/gebruikersbestand/?format=xlsx",
                }
                for _warm in range(2):  # both formats: the first XLSX in a worker imports openpyxl
                    _fetch(PORT, paths["csv"], cookies["big"])
                    _fetch(PORT, paths["xlsx"], cookies["big"])
                    _fetch(PORT, "/bench/bare-login/", cookies["big"])
                for number in range(rounds):
                    for fmt in ("csv", "xlsx"):
                        export[f"{fmt}_big"].append(_fetch(PORT, paths[fmt], cookies["big"]))
                        export[f"{fmt}_small"].append(_fetch(PORT, paths[fmt], cookies["small"]))
                    export["bare_login"].append(_fetch(PORT, "/bench/bare-login/", cookies["big"]))
                    print(
                        f"P8 export round {number + 1}: CSV {export_users} users first byte "
                        f"{export['csv_big'][-1]['first_byte_ms']:.0f} ms, first row "
                        f"{export['csv_big'][-1]['first_row_ms']:.0f} ms, complete "
                        f"{export['csv_big'][-1]['complete_ms']:.0f} ms; XLSX first byte "
                        f"{export['xlsx_big'][-1]['first_byte_ms']:.0f} ms, complete "
                        f"{export['xlsx_big'][-1]['complete_ms']:.0f} ms; {export_users // 10} users CSV "
                        f"{export['csv_small'][-1]['complete_ms']:.0f} ms; bare view behind login "
                        f"{export['bare_login'][-1]['complete_ms']:.1f} ms",
                        flush=True,
                    )

            def figure(key: str, field: str) -> dict:
                return summary([row[field] for row in export[key]])

            csv_first = figure("csv_big", "first_byte_ms")
            csv_complete = figure("csv_big", "complete_ms")
            xlsx_first = figure("xlsx_big", "first_byte_ms")
            xlsx_complete = figure("xlsx_big", "complete_ms")
            return {
                "users": users,
                "bulk_seconds": summary(bulk),
                "baseline_seconds": summary(baseline),
                "bulk_vs_one_at_a_time": summary([b / s for b, s in zip(bulk, baseline, strict=True)]),
                "export_users": export_users,
                "csv_first_byte_ms": csv_first,
                "csv_first_row_ms": figure("csv_big", "first_row_ms"),
                "csv_complete_ms": csv_complete,
                "csv_bytes": export["csv_big"][-1]["bytes"],
                "xlsx_first_byte_ms": xlsx_first,
                "xlsx_complete_ms": xlsx_complete,
                "csv_small_complete_ms": figure("csv_small", "complete_ms"),
                "xlsx_small_complete_ms": figure("xlsx_small", "complete_ms"),
                "bare_login_ms": figure("bare_login", "complete_ms"),
                "csv_first_byte_vs_bare_login": summary(
                    [
                        a["first_byte_ms"] / b["complete_ms"]
                        for a, b in zip(export["csv_big"], export["bare_login"], strict=True)
                    ]
                ),
                "csv_scaling_10x_rows": summary(
                    [
                        a["complete_ms"] / b["complete_ms"]
                        for a, b in zip(export["csv_big"], export["csv_small"], strict=True)
                    ]
                ),
                "xlsx_scaling_10x_rows": summary(
                    [
                        a["complete_ms"] / b["complete_ms"]
                        for a, b in zip(export["xlsx_big"], export["xlsx_small"], strict=True)
                    ]
                ),
                "pass_bulk": sorted(bulk)[len(bulk) // 2] <= 10,
                "pass_export": csv_first["median"] <= 200
                and csv_complete["median"] <= 3000
                and xlsx_first["median"] <= 200
                and xlsx_complete["median"] <= 3000,
            }
    finally:
        from django.db import connections

        connections.close_all()
        scratch_database(DB_NAME, drop_only=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--export-users", type=int, default=10_000)
    parser.add_argument("--json")
    args = parser.parse_args()
    write_result(args.json, run(users=args.users, rounds=args.rounds, export_users=args.export_users))


if __name__ == "__main__":
    main()
