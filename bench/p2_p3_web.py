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
    """An organisation of ``count`` users with the history a real one has, so filters have work to do.

    Every user holds two roles (with the organisation's kenmerken); a quarter is linked, a fifth was
    unlinked (a third of those since got a new code), a quarter got a code mail and a code, one in a
    hundred is blocked by the koppel lockout and one in twenty was removed.
    """
    from datetime import timedelta

    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from accounts.models import Account, EmailOutbox, Kenmerk, Rol, RolToekenning, generate_username
    from beheer.constants import ACTIVATION_CODE_EMAIL_TEMPLATE
    from koppeling.models import ActivationCode, KoppelAttemptCounter, Koppeling
    from tests.factories import OrganisatieFactory, beheerder_create, kenmerk_type

    organisatie = OrganisatieFactory()
    beheerder = beheerder_create("vo", organisatie=organisatie, name="Bea Beheer")
    kenmerken = [
        Kenmerk.objects.create(
            organisatie=organisatie, type=kenmerk_type("instellingscode"), waarde=f"{n:02d}AB"
        )
        for n in range(4)
    ]
    rollen = list(Rol.objects.filter(beheerautorisaties__accounts=beheerder).distinct().order_by("code")[:4])
    unusable = make_password(None)
    usernames = set()
    while len(usernames) < count:
        usernames.add(generate_username())
    now = timezone.now()
    accounts = Account.objects.bulk_create(
        [
            Account(
                username=username,
                organisatie=organisatie,
                name=f"Gebruiker {(i * 7919) % count:05d}",
                email=f"g{i}@school.example",
                password=unusable,
                last_login=now - timedelta(hours=i) if i % 3 == 0 else None,
                removed_at=now - timedelta(days=1) if i % 20 == 19 else None,
            )
            for i, username in enumerate(sorted(usernames))
        ],
        batch_size=2000,
    )
    RolToekenning.objects.bulk_create(
        [
            RolToekenning(
                account=a, rol=rollen[(i + k) % len(rollen)], kenmerk=kenmerken[(i + k) % len(kenmerken)]
            )
            for i, a in enumerate(accounts)
            for k in (0, 1)
        ],
        batch_size=5000,
    )
    linked, unlinked, coded = accounts[0::4], accounts[1::5], accounts[2::4]
    Koppeling.objects.bulk_create(
        [
            Koppeling(
                account=a,
                acting_subject_id=f"p{a.pk}",
                legal_subject_id="12345678",
                level="loa3",
                last_login_at=now - timedelta(minutes=a.pk % 5000),
            )
            for a in linked
        ],
        batch_size=5000,
    )
    Koppeling.objects.bulk_create(
        [
            Koppeling(
                account=a,
                acting_subject_id=f"q{a.pk}",
                legal_subject_id="12345678",
                level="loa3",
                ended_at=now - timedelta(days=30),
            )
            for a in unlinked  # some of them linked again since
        ],
        batch_size=5000,
    )
    mailed = list({a.pk: a for a in coded + unlinked[::3]}.values())
    EmailOutbox.objects.bulk_create(
        [
            EmailOutbox(
                to=a.email,
                template=ACTIVATION_CODE_EMAIL_TEMPLATE,
                account=a,
                message_id=f"<p3-{a.pk}-{n}@bench>",
                created_at=now - timedelta(days=60 - 50 * n),
                sent_at=now - timedelta(days=60 - 50 * n),
            )
            for a in mailed
            for n in (0, 1)
        ],
        batch_size=5000,
    )
    ActivationCode.objects.bulk_create(
        [
            ActivationCode(
                account=a,
                code_hash="x",
                created_at=now - timedelta(days=10),
                expires_at=now - timedelta(days=9),
            )
            for a in mailed
        ],
        batch_size=5000,
    )
    KoppelAttemptCounter.objects.bulk_create(
        [
            KoppelAttemptCounter(key=f"u:{a.username}", failures=5, blocked_until=now + timedelta(days=1))
            for a in accounts[5::100]
        ]
        + [KoppelAttemptCounter(key=f"i:bench-{organisatie.pk}-{n}", failures=1) for n in range(count // 2)],
        batch_size=5000,
    )
    return beheerder, rollen[0], kenmerken[0]


def _p3_variants(rol, kenmerk) -> dict[str, str]:
    """The list as a beheerder uses it: each filter and sort, and a page deep in the list."""
    return {
        "default": "/beheer/",
        "sort_status": "/beheer/?sort=status",
        "sort_status_desc": "/beheer/?sort=-status",
        "sort_last_login": "/beheer/?sort=-last_login",
        "filter_status": "/beheer/?status=activatiecode_verstuurd",
        "filter_rol_kenmerk": f"/beheer/?rol={rol.pk}&kenmerk={kenmerk.pk}&sort=status",
        "page_200_of_100": "/beheer/?per_page=100&page=95&sort=username",
        "search": "/beheer/?q=Gebruiker+01",
    }


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
        big, rol, kenmerk = _organisation_with_users(USERS)
        small, small_rol, small_kenmerk = _organisation_with_users(10)
        variants = _p3_variants(rol, kenmerk)
        small_variants = _p3_variants(small_rol, small_kenmerk)
        small_variants["page_200_of_100"] = "/beheer/?per_page=100&sort=username"  # 10 users: one page
        # 10 users are "Gebruiker 00000" to "Gebruiker 00009": "Gebruiker 01" finds none of them, and
        # an empty result needs fewer queries (no rows to complete), which is not the same page. This
        # term finds all ten, as "Gebruiker 01" finds a thousand of the 10,000 (a page of them).
        small_variants["search"] = "/beheer/?q=Gebruiker+0000"
        analyze()
        cookies = {
            "overview": session_cookie(overview_user),
            "big": session_cookie(big),
            "small": session_cookie(small),
        }
        queries = {
            "overview": _queries(overview_user, "/overzicht/"),
            **{f"beheer_10000 {name}": _queries(big, url) for name, url in variants.items()},
            **{f"beheer_10 {name}": _queries(small, url) for name, url in small_variants.items()},
        }
        from django.db import connections

        connections.close_all()
        result = {"queries_per_request": queries}
        with gunicorn(bench_env(DB_NAME), port=PORT) as base:
            _check_200(base, "/overzicht/", cookies["overview"])
            for url in variants.values():
                _check_200(base, url, cookies["big"])
            for url in small_variants.values():
                _check_200(base, url, cookies["small"])
            _check_200(base, "/bench/bare/", "")
            # warm both workers
            wrk(f"{base}/overzicht/", seconds=2, connections=4, cookie=cookies["overview"])
            wrk(f"{base}/beheer/", seconds=2, connections=2, cookie=cookies["big"])
            if only in (None, "P2"):
                result["P2"] = _p2(base, cookies, rounds=rounds, seconds=seconds)
            if only in (None, "P3"):
                result["P3"] = _p3(
                    base, cookies, variants, small_variants, rounds=rounds, seconds=max(2, seconds // 2)
                )
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


def _p3(base, cookies, variants, small_variants, *, rounds, seconds) -> dict:
    """Each variant of the list at 10,000 and at 10 users, one connection; the worst variant counts."""
    figures = {f"{size} {name}": [] for name in variants for size in ("beheer_10000", "beheer_10")}
    figures["bare"] = []
    for number in range(rounds):
        for name in variants:
            for size, urls, cookie in (
                ("beheer_10000", variants, cookies["big"]),
                ("beheer_10", small_variants, cookies["small"]),
            ):
                figure = wrk(f"{base}{urls[name]}", seconds=seconds, connections=1, cookie=cookie)
                assert figure["non_2xx"] == 0, (name, figure)
                figures[f"{size} {name}"].append(figure)
        figures["bare"].append(wrk(f"{base}/bench/bare/", seconds=seconds, connections=1))
        print(
            f"P3 round {number + 1}: "
            + ", ".join(f"{k} {v[-1]['p50_ms']:.1f}" for k, v in figures.items() if v)
            + " ms p50",
            flush=True,
        )
    p50 = {name: summary([f["p50_ms"] for f in values]) for name, values in figures.items()}
    worst = max(variants, key=lambda name: p50[f"beheer_10000 {name}"]["median"])
    return {
        "p50_ms": p50,
        "p90_ms": {name: summary([f["p90_ms"] for f in values]) for name, values in figures.items()},
        "ratio_10000_vs_10_users": {
            name: summary(
                [
                    a["p50_ms"] / b["p50_ms"]
                    for a, b in zip(
                        figures[f"beheer_10000 {name}"], figures[f"beheer_10 {name}"], strict=True
                    )
                ]
            )
            for name in variants
        },
        "variants": variants,
        "worst": worst,
        "users": USERS,
        "pass": p50[f"beheer_10000 {worst}"]["median"] <= 50,
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
