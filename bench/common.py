"""Shared helpers for the benchmarks: scratch databases, Django set-up, statistics, servers, loads.

Each benchmark runs in its own process (``python -m bench.pN``) against its own scratch PostgreSQL
database ``mijnduo_bench_pN``, created at the start and dropped at the end. Servers (gunicorn,
Redis, SMTP) listen on loopback only, on ports 18000–18099 (Redis 6395–6399), and every load is
bounded in requests and seconds.
"""

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_PORT = 6395


# --- databases and Django ---------------------------------------------------------------------


def database_url(name: str) -> str:
    return f"postgres://postgres@127.0.0.1:5432/{name}"


def scratch_database(name: str, *, drop_only: bool = False) -> None:
    import psycopg2

    assert name.startswith("mijnduo_bench"), name
    connection = psycopg2.connect(ADMIN_URL)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        )
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        if not drop_only:
            cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()


def bench_env(db_name: str, **extra: str) -> dict[str, str]:
    """The environment of the benchmark process and of the servers it starts."""
    env = {
        **os.environ,
        "DJANGO_ENV": "test",
        "DJANGO_SETTINGS_MODULE": "mijnduo.settings",
        "DATABASE_URL": database_url(db_name),
        "DJANGO_DEBUG": "0",
        "LOG_LEVEL": "ERROR",
        "CACHE_KEY_PREFIX": db_name,
        "TEST_DATABASE_NAME": f"test_{db_name}",
        "PYTHONPATH": str(ROOT),
    }
    env.update(extra)
    return env


def django_setup(db_name: str, *, migrate: bool = True, **extra: str) -> None:
    os.environ.update(bench_env(db_name, **extra))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)


def analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


# --- statistics -------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = (len(ordered) - 1) * q
    low, high = int(index), min(int(index) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (index - low)


def summary(per_round: list[float]) -> dict:
    """Median over rounds and the spread (min–max) of a per-round figure."""
    return {
        "median": statistics.median(per_round),
        "min": min(per_round),
        "max": max(per_round),
        "rounds": per_round,
    }


def write_result(path: str | None, result: dict) -> None:
    text = json.dumps(result, indent=2, default=str)
    if path:
        Path(path).write_text(text)
    print(text)


# --- servers ----------------------------------------------------------------------------------


def port_wait(port: int, *, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def process_stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def gunicorn(env: dict, *, port: int, app: str = "bench.wsgi:application", workers: int = 2):
    """gunicorn on loopback, the production server config (sync workers, one per core)."""
    command = [
        PYTHON,
        "-m",
        "gunicorn",
        app,
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "sync",
        "--log-level",
        "warning",
        "--timeout",
        "60",
        "--keep-alive",
        "5",
    ]
    process = subprocess.Popen(command, env=env, cwd=ROOT)
    try:
        port_wait(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        process_stop(process)


@contextlib.contextmanager
def redis_server(port: int = REDIS_PORT):
    process = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        port_wait(port)
        yield f"redis://127.0.0.1:{port}"
    finally:
        process_stop(process)


# --- loads ------------------------------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    return float(match.group(1)) * _UNITS[match.group(2)]


def wrk(
    url: str, *, seconds: int, connections: int, threads: int = 1, cookie: str = "", header: str = ""
) -> dict:
    """Run wrk against ``url`` for ``seconds``; return requests/s, latency percentiles and errors.
    ``header`` is one more request header line (e.g. ``Authorization: Bearer …``)."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (scripts/setup.sh test installs it)")
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--latency"]
    if cookie:
        command += ["-H", f"Cookie: {cookie}"]
    if header:
        command += ["-H", header]
    output = subprocess.run(
        [*command, url], capture_output=True, text=True, check=True, timeout=seconds + 30
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    latency = {p: _ms(v) for p, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", output, re.M)}
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    return {
        "rps": rps,
        "p50_ms": latency.get("50"),
        "p90_ms": latency.get("90"),
        "p99_ms": latency.get("99"),
        "requests": requests,
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": errors.group(1) if errors else "",
    }


def session_cookie(account, *, page: str = "/overzicht/") -> str:
    """The cookies of a browser logged in as ``account`` in the bench database, as a Cookie header
    value: the session, and the CSRF cookie the first page set (a browser sends it back with every
    request; without it each request would draw and set a new CSRF secret)."""
    from django.conf import settings
    from django.test import Client

    from koppeling.backends import EHERKENNING_BACKEND

    client = Client()
    client.force_login(account, backend=EHERKENNING_BACKEND)  # as after the ACS
    response = client.get(page)
    assert response.status_code == 200, (page, response.status_code)
    names = (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME)
    return "; ".join(f"{name}={client.cookies[name].value}" for name in names)


# --- the machine ------------------------------------------------------------------------------


def machine() -> dict:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "unknown"
    with contextlib.suppress(OSError):
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        ram = f"{kb / 1024 / 1024:.1f} GiB"
    load = os.getloadavg()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram": ram,
        "load_at_start": [round(x, 2) for x in load],
        "calibration": calibration(),
    }


def calibration() -> dict:
    """Two fixed workloads timed at the start of a run (median of repeats), so that the absolute
    figures of runs on different days can be compared: this VM's speed drifts by more than the
    margins of the millisecond targets. An RSA-2048 signature (OpenSSL, the kind of work in P1)
    and a fixed piece of pure Python (dicts, strings, JSON: the kind of work in Django)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def rsa_sign():
        key.sign(b"calibration", padding.PKCS1v15(), hashes.SHA256())

    def python_work():
        rows = [{"id": i, "name": f"Gebruiker {i:05d}", "roles": list(range(i % 7))} for i in range(2000)]
        text = json.dumps(rows)
        back = json.loads(text)
        return sum(len(row["name"]) + len(row["roles"]) for row in back)

    def median_ms(function, repeats: int) -> float:
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            function()
            times.append((time.perf_counter() - started) * 1000)
        return round(statistics.median(times), 3)

    median_ms(rsa_sign, 20)  # warm up
    return {"rsa2048_sign_ms": median_ms(rsa_sign, 300), "python_work_ms": median_ms(python_work, 40)}
