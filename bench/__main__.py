"""``python -m bench [P1 P2 …]``: measure the performance targets of design.md §7 and write
docs/benchmarks.md.

Each benchmark runs in its own process with its own scratch database (created and dropped) and
writes a JSON result; results are merged into docs/benchmarks.json (so a subset run updates only
its rows) and rendered to docs/benchmarks.md with the machine, the versions and how to reproduce.
"""

import json
import platform
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.common import PYTHON, ROOT, machine

RESULTS = ROOT / "docs" / "benchmarks.json"
REPORT = ROOT / "docs" / "benchmarks.md"

MODULES = {
    "P1": ("bench.p1_acs", []),
    "P2": ("bench.p2_p3_web", ["--only", "P2"]),
    "P3": ("bench.p2_p3_web", ["--only", "P3"]),
    "P4": ("bench.p4", []),
    "P5": ("bench.p5_koppel", []),
    "P6": ("bench.p6_mail", []),
    "P7": ("bench.p7_import", []),
    "P8": ("bench.p8_bulk", []),
    "P9": ("bench.p9_oidc", []),
}


def _run(module: str, args: list[str]) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = handle.name
    started = time.monotonic()
    subprocess.run([PYTHON, "-m", module, *args, "--json", out], cwd=ROOT, check=True)
    result = json.loads(Path(out).read_text())
    Path(out).unlink()
    result["wall_seconds"] = round(time.monotonic() - started, 1)
    return result


def _version(command: list[str], pattern: str = r"(\d+(?:\.\d+)+)") -> str:
    try:
        output = subprocess.run(command, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    match = re.search(pattern, output.stdout + output.stderr)
    return match.group(1) if match else "unknown"


def versions() -> dict:
    from importlib.metadata import version

    import psycopg2

    connection = psycopg2.connect("postgresql://postgres@127.0.0.1:5432/postgres")
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
    connection.close()
    import lxml.etree
    import xmlsec

    return {
        "Python": platform.python_version(),
        "Django": version("django"),
        "pysaml2": version("pysaml2"),
        "djangosaml2": version("djangosaml2"),
        "xmlsec (bindings)": version("xmlsec"),
        "libxmlsec1": ".".join(map(str, xmlsec.get_libxmlsec_version())),
        "lxml / libxml2": f"{version('lxml')} / {'.'.join(map(str, lxml.etree.LIBXML_VERSION))}",
        "xmlsec1 program": _version(["xmlsec1", "--version"]),
        "gunicorn": version("gunicorn"),
        "Celery": version("celery"),
        "PostgreSQL": postgres,
        "Redis": _version(["redis-server", "--version"], r"v=(\S+)"),
        "wrk": _version(["wrk", "--version"]),
        "OS": platform.platform(),
    }


def main(argv: list[str]) -> None:
    wanted = [arg.upper() for arg in argv] or list(MODULES)
    unknown = [w for w in wanted if w not in MODULES]
    if unknown:
        sys.exit(f"unknown benchmark(s) {unknown}; choose from {list(MODULES)}")
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"results": {}}
    started = time.monotonic()
    info = {"machine": machine(), "versions": versions()}
    combined = {}
    if "P2" in wanted and "P3" in wanted:
        wanted = [w for w in wanted if w != "P3"]
        combined["P2"] = ("bench.p2_p3_web", [])
    for name in wanted:
        module, args = combined.get(name, MODULES[name])
        print(f"==> {name}: python -m {module} {' '.join(args)}", flush=True)
        result = _run(module, args)
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        # Each row keeps the calibration of the run that measured it: a subset run replaces only
        # its own rows, and the Machine section describes only the last run.
        calibration = info["machine"]["calibration"]
        if module == "bench.p2_p3_web":
            for part in ("P2", "P3"):
                if part in result:
                    results["results"][part] = {
                        **result[part],
                        "queries_per_request": result["queries_per_request"],
                        "measured": stamp,
                        "wall_seconds": result["wall_seconds"],
                        "calibration": calibration,
                    }
        else:
            results["results"][name] = {**result, "measured": stamp, "calibration": calibration}
    info["load_at_end"] = [round(x, 2) for x in __import__("os").getloadavg()]
    info["suite_seconds"] = round(time.monotonic() - started, 1)
    info["ran"] = sorted(set(wanted) | ({"P3"} if combined else set()))
    info["command"] = "python -m bench " + " ".join(argv) if argv else "make bench"
    results["last_run"] = info
    RESULTS.write_text(json.dumps(results, indent=2, default=str) + "\n")
    from bench.report import render

    REPORT.write_text(render(results))
    print(f"==> wrote {REPORT.relative_to(ROOT)} ({info['suite_seconds']:.0f} s)")


if __name__ == "__main__":
    main(sys.argv[1:])
