"""Development commands and MIJNDUO_DEV_DIR (issue 13 §4): every command given the directory `make run` used
works on that directory's database, wherever it is started from, and writes nothing anywhere else; a command
given another directory stops with a message that says so, instead of creating an empty database there.

Each command runs as its own process with the development profile, as the README tells a newcomer, with
``HOME`` an empty temporary directory that must stay empty.
"""

import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django_otp.oath import TOTP

from accounts.demo import HELPDESK_TOTP_KEY, HELPDESK_USERNAME

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def settings_variables() -> set[str]:
    """Every environment variable mijnduo/settings.py reads: none of the test profile's may leak in."""
    source = (ROOT / "mijnduo" / "settings.py").read_text()
    return set(re.findall(r"\benv(?:\.\w+)?\(\s*[\"']([A-Z][A-Z0-9_]*)[\"']", source))


def development_env(*, home: Path, dev_dir: str | None) -> dict:
    env = {key: value for key, value in os.environ.items() if key not in settings_variables() | {"HOME"}}
    env.update(DJANGO_ENV="development", HOME=str(home))
    if dev_dir is not None:
        env["MIJNDUO_DEV_DIR"] = dev_dir
    return env


def manage(env: dict, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def files_under(directory: Path) -> list[str]:
    return sorted(str(path.relative_to(directory)) for path in directory.rglob("*"))


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    """A development data directory as `make run` leaves it: created, migrated, demo data loaded."""
    base = tmp_path_factory.mktemp("devcommands")
    dev_dir, home = base / "dev", base / "home"
    dev_dir.mkdir(mode=0o700)
    home.mkdir()
    env = development_env(home=home, dev_dir=str(dev_dir))
    for args in (["migrate", "-v", "0"], ["demo_data"]):
        result = manage(env, *args)
        assert result.returncode == 0, result.stderr[-3000:]
    assert files_under(home) == []
    (dev_dir.parent / "demo_data.out").write_text(result.stdout)
    return dev_dir


@pytest.fixture
def home(tmp_path):
    directory = tmp_path / "home"
    directory.mkdir()
    return directory


def helpdesk_codes_around(moment: float) -> set[str]:
    """The demo helpdesk device's codes of the time steps around ``moment`` (the command ran in one of them)."""
    codes = set()
    for offset in (-30, 0, 30):
        totp = TOTP(bytes.fromhex(HELPDESK_TOTP_KEY))
        totp.time = moment + offset
        codes.add(f"{totp.token():06d}")
    return codes


def test_totp_now_with_a_custom_dev_dir_prints_the_demo_code_and_writes_nothing_home(demo_dir, home):
    before = files_under(demo_dir)
    result = manage(development_env(home=home, dev_dir=str(demo_dir)), "totp_now", HELPDESK_USERNAME)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() in helpdesk_codes_around(time.time())
    assert files_under(home) == []
    assert files_under(demo_dir) == before


def test_a_relative_dev_dir_means_the_same_directory_from_any_working_directory(demo_dir, home, tmp_path):
    """run-dev.sh runs in the repository root; a command started elsewhere must find the same database."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    relative = os.path.relpath(demo_dir, ROOT)
    result = manage(
        development_env(home=home, dev_dir=relative), "totp_now", HELPDESK_USERNAME, cwd=elsewhere
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() in helpdesk_codes_around(time.time())
    assert files_under(elsewhere) == []
    assert files_under(home) == []


@pytest.mark.parametrize("given", ["unset", "missing"])
def test_a_command_without_the_dev_dir_of_make_run_stops_clearly_and_creates_nothing(home, tmp_path, given):
    missing = tmp_path / "never-created"
    dev_dir = None if given == "unset" else str(missing)
    result = manage(development_env(home=home, dev_dir=dev_dir), "totp_now", HELPDESK_USERNAME)
    assert result.returncode != 0
    assert "MIJNDUO_DEV_DIR" in result.stderr
    expected = missing if given == "missing" else home / ".local/share/mijnduo"
    assert str(expected) in result.stderr
    assert "no such table" not in result.stderr
    assert files_under(home) == []
    assert not missing.exists()


def test_demo_data_prints_the_totp_now_line_to_type_with_its_dev_dir(demo_dir, home):
    output = (demo_dir.parent / "demo_data.out").read_text()
    line = re.search(r"TOTP code: (.*totp_now HELPDESK)$", output, re.MULTILINE).group(1)
    words = shlex.split(line)
    assignments = dict(word.split("=", 1) for word in words if re.fullmatch(r"[A-Z_]+=.*", word))
    assert assignments == {"MIJNDUO_DEV_DIR": str(demo_dir), "DJANGO_ENV": "development"}
    assert words[len(assignments) :] == [".venv/bin/python", "manage.py", "totp_now", HELPDESK_USERNAME]
    env = {**development_env(home=home, dev_dir=None), **assignments}
    result = manage(env, "totp_now", HELPDESK_USERNAME)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() in helpdesk_codes_around(time.time())
