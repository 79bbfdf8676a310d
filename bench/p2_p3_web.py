"""P2 and P3 (design.md §7): screens under gunicorn on loopback, beside a bare Django view.

P2: /overzicht/ for a user with 10 roles (beheerder too), under a concurrent wrk load, against
``/bench/bare/`` (bench/urls.py: same server, same middleware, no query) and ``/bench/bare-login/``
(the same bare view behind the same login: session and account loaded) on the same gunicorn
config: the ratios of requests/s. P3: /beheer/ (Autorisatiebeheer user list) of an organisation
with 10,000 users, one connection at a time (latency p50/p90), beside the same page for an
organisation with 10 users and the bare view. Query counts per request are asserted by the tests
(tests/accounts/test_overview.py, tests/beheer/test_list_scale.py); here they are recorded once.

    .venv/bin/python -m bench.p2_p3_web [--rounds 3] [--seconds 6] [--only P2|P3]
"""

import argparse
import urllib.request

from bench.common import (
    bench_env,
    django_setup,
    gunicorn,
    scratch_database,
    session_cookie,
    summary,
    write_result,
    wrk,
)

DB_NAME = "mijnduo_bench_web"
PORT = 18010
USERS = 10_000


def _overview_user():
    from accounts.models import Rol
    from tests.factories import (
        AccountFactory,
        KenmerkFactory,
        MededelingFactory,
        grant_beheerautorisatie,
        grant_rol,
    )

    account = AccountFactory()
    kenmerk = KenmerkFactory(organisatie=account.organisatie)
    for rol in Rol.objects.order_by("code")[:10]:
        grant_rol(account, rol.code, kenmerk)
    grant_beheerautorisatie(account, "vo")
    MededelingFactory.create_batch(3)
    return account


def _organisation_with_users(count: int):
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from accounts.models import Account, generate_username
    from koppeling.models import Koppeling
    from tests.factories import OrganisatieFactory, beheerder_create

    organisatie = OrganisatieFactory()
    beheerder = beheerder_create("vo", organisatie=organisatie, name="Bea Beheer")
    unusable = make_password(None)
    usernames = set()
    while len(usernames) < count:
        usernames.add(generate_username())
    accounts = Account.objects.bulk_create(
        [
            Account(
                username=username,
                organisatie=organisatie,
                name=f"Gebruiker {i:05d}",
                email=f"g{i}@school.example",
                password=unusable,
                last_login=timezone.now() if i % 3 == 0 else None,
            )
            for i, username in enumerate(sorted(usernames))
        ],
        batch_size=2000,
    )
    Koppeling.objects.bulk_create(
        [
            Koppeling(account=a, acting_subject_id=f"p{a.pk}", legal_subject_id="12345678", level="loa3")
            for a in accounts[::4]
        ]
    )
    return beheerder


def _queries(account, url: str) -> int:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from koppeling.backends import EHERKENNING_BACKEND

    client = Client()
    client.force_login(account, backend=EHERKENNING_BACKEND)
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(queries)


def _check_200(base: str, path: str, cookie: str) -> None:
    request = urllib.request.Request(base + path, headers={"Cookie": cookie})
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310  (loopback)
        assert response.status == 200 and response.url.endswith(path), (path, response.status, response.url)


def run(*, rounds: int, seconds: int, only: str | None) -> dict:
    scratch_database(DB_NAME)
    try:
        django_setup(DB_NAME)
        from bench.common import analyze

        overview_user = _overview_user()
        big = _organisation_with_users(USERS)
        small = _organisation_with_users(10)
        analyze()
        cookies = {
            "overview": session_cookie(overview_user),
            "big": session_cookie(big),
            "small": session_cookie(small),
        }
        queries = {
            "overview": _queries(overview_user, "/overzicht/"),
            "beheer_10000": _queries(big, "/beheer/"),
            "beheer_10": _queries(small, "/beheer/"),
        }
        from django.db import connections

        connections.close_all()
        result = {"queries_per_request": queries}
        with gunicorn(bench_env(DB_NAME), port=PORT) as base:
            _check_200(base, "/overzicht/", cookies["overview"])
            _check_200(base, "/beheer/", cookies["big"])
            _check_200(base, "/beheer/", cookies["small"])
            _check_200(base, "/bench/bare/", "")
            # warm both workers
            wrk(f"{base}/overzicht/", seconds=2, connections=4, cookie=cookies["overview"])
            wrk(f"{base}/beheer/", seconds=2, connections=2, cookie=cookies["big"])
            if only in (None, "P2"):
                result["P2"] = _p2(base, cookies, rounds=rounds, seconds=seconds)
            if only in (None, "P3"):
                result["P3"] = _p3(base, cookies, rounds=rounds, seconds=seconds)
        return result
    finally:
        from django.db import connections

        connections.close_all()
        scratch_database(DB_NAME, drop_only=True)


def _p2(base, cookies, *, rounds, seconds) -> dict:
    overview, bare, bare_login, ratios, login_ratios = [], [], [], [], []
    paths = {"overview": "/overzicht/", "bare": "/bench/bare/", "bare_login": "/bench/bare-login/"}
    for number in range(rounds):
        order = ("overview", "bare", "bare_login") if number % 2 == 0 else ("bare_login", "bare", "overview")
        figures = {}
        for name in order:
            cookie = cookies["overview"] if name != "bare" else None
            kwargs = {"cookie": cookie} if cookie else {}
            figures[name] = wrk(f"{base}{paths[name]}", seconds=seconds, connections=4, **kwargs)
            assert figures[name]["non_2xx"] == 0, figures[name]
        overview.append(figures["overview"])
        bare.append(figures["bare"])
        bare_login.append(figures["bare_login"])
        ratios.append(figures["overview"]["rps"] / figures["bare"]["rps"])
        login_ratios.append(figures["overview"]["rps"] / figures["bare_login"]["rps"])
        print(
            f"P2 round {number + 1}: overview {figures['overview']['rps']:.0f} req/s, "
            f"bare {figures['bare']['rps']:.0f} req/s, ratio {ratios[-1]:.2f}; "
            f"bare behind login {figures['bare_login']['rps']:.0f} req/s, ratio {login_ratios[-1]:.2f}",
            flush=True,
        )
    return {
        "overview_rps": summary([f["rps"] for f in overview]),
        "bare_rps": summary([f["rps"] for f in bare]),
        "bare_login_rps": summary([f["rps"] for f in bare_login]),
        "ratio_login": summary(login_ratios),
        "overview_p50_ms": summary([f["p50_ms"] for f in overview]),
        "ratio": summary(ratios),
        "connections": 4,
        "seconds_per_load": seconds,
        "pass": sorted(ratios)[len(ratios) // 2] >= 0.5,
        "pass_login": sorted(login_ratios)[len(login_ratios) // 2] >= 0.5,
    }


def _p3(base, cookies, *, rounds, seconds) -> dict:
    figures = {"beheer_10000": [], "beheer_10": [], "bare": []}
    for number in range(rounds):
        for name in ("beheer_10000", "beheer_10", "bare"):
            if name == "bare":
                figure = wrk(f"{base}/bench/bare/", seconds=seconds, connections=1)
            else:
                cookie = cookies["big" if name == "beheer_10000" else "small"]
                figure = wrk(f"{base}/beheer/", seconds=seconds, connections=1, cookie=cookie)
            assert figure["non_2xx"] == 0, figure
            figures[name].append(figure)
        print(
            f"P3 round {number + 1}: "
            + ", ".join(f"{k} p50 {v[-1]['p50_ms']:.1f} ms" for k, v in figures.items()),
            flush=True,
        )
    p50 = {name: summary([f["p50_ms"] for f in values]) for name, values in figures.items()}
    return {
        "p50_ms": p50,
        "p90_ms": {name: summary([f["p90_ms"] for f in values]) for name, values in figures.items()},
        "ratio_10000_vs_10_users": summary(
            [
                a["p50_ms"] / b["p50_ms"]
                for a, b in zip(figures["beheer_10000"], figures["beheer_10"], strict=True)
            ]
        ),
        "users": USERS,
        "pass": p50["beheer_10000"]["median"] <= 50,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--only", choices=["P2", "P3"])
    parser.add_argument("--json")
    args = parser.parse_args()
    write_result(args.json, run(rounds=args.rounds, seconds=args.seconds, only=args.only))


if __name__ == "__main__":
    main()
