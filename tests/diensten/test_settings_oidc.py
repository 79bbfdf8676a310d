"""Production refuses to start without the OpenID Connect signing key (design.md §5, §9)."""

from tests.accounts.test_settings import production_env, run_manage  # noqa: F401  (fixture)


def test_production_refuses_to_start_without_the_oidc_signing_key(production_env):  # noqa: F811
    env = {key: value for key, value in production_env.items() if not key.startswith("OIDC_")}
    result = run_manage(env, "check")
    assert result.returncode != 0
    assert "Refusing to start with production settings" in result.stderr
    assert "OIDC_RSA_PRIVATE_KEY_FILE" in result.stderr


def test_production_publishes_the_next_key_beside_the_current_one(production_env, tmp_path):  # noqa: F811
    import subprocess
    import sys

    from tests.accounts.test_settings import ROOT

    next_key = tmp_path / "next.key"
    subprocess.run(
        [
            "openssl",
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            str(next_key),
        ],
        check=True,
        capture_output=True,
    )
    code = (
        "import django, json; django.setup()\n"
        "from django.test import Client\n"
        "keys = json.loads(Client(HTTP_HOST='zakelijk.example.nl').get('/o/jwks/', secure=True).content)['keys']\n"
        "print(len(keys), len({key['kid'] for key in keys}))\n"
    )
    env = {
        **production_env,
        "DJANGO_SETTINGS_MODULE": "mijnduo.settings",
        "OIDC_RSA_NEXT_PRIVATE_KEY_FILE": str(next_key),
    }
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["2", "2"]
