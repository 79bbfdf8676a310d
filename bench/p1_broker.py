"""The loopback broker of P1: the dev broker's ArtifactResolutionService over mutual TLS, in a process
of its own so that its CPU is not the portal's.

Started by bench/p1_acs.py with the benchmark's environment (same settings, key directory, Redis
cache and key prefix: the artifacts the benchmark issues with the dev broker's ``artifact_issue``
are in the cache this process resolves them from). It serves the portal's WSGI app — so the dev
broker's ``ars`` view, as ``koppeling.dev_broker.testing.ars_loopback`` does in the tests — with
``koppeling.dev_broker.tls.tls_server`` on a free loopback port, requiring the portal's TLS client
certificate (pinned), and prints one JSON line: its ArtifactResolutionService URL and the CA file
the portal must trust. It stops when its standard input closes (the benchmark ends or dies).

The broker signs its ArtifactResponse and checks the portal's signed ArtifactResolve with the
in-process libxmlsec1 backend instead of pysaml2's xmlsec1 processes, and builds the SP metadata it
knows once per SP configuration (:func:`sp_metadata_memo`) instead of on every request: a real
broker's speed is none of ours, and this keeps the benchmark's wall time down. The round trip is
measured and reported beside the portal's time, never in it.

    .venv/bin/python -m bench.p1_broker   # (normally started by bench.p1_acs)
"""

import json
import os
import sys
from pathlib import Path

from bench.common import django_setup

DB_NAME = "mijnduo_bench_p1"


def sp_metadata_memo() -> None:
    """Make the dev broker build our SP's metadata once per SP configuration object.

    ``koppeling.dev_broker.idp.broker_server`` builds it on every call (it is part of the cache key
    of the broker's pysaml2 server), and pysaml2's ``entity_descriptor`` runs ``xmlsec1
    --list-transforms`` each time: about 50 ms per minted response and per ArtifactResolve the
    broker answers. Only the dev broker's side uses it; the portal's own metadata is another module.
    """
    from koppeling.dev_broker import idp
    from koppeling.saml.config import sp_config_load

    build = idp.sp_metadata_xml
    built: dict[int, tuple[object, str]] = {}

    def sp_metadata_xml() -> str:
        config = sp_config_load()
        entry = built.get(id(config))
        if entry is None or entry[0] is not config:
            entry = built[id(config)] = (config, build())
        return entry[1]

    idp.sp_metadata_xml = sp_metadata_xml


def main() -> None:
    django_setup(DB_NAME, migrate=False)
    from django.conf import settings
    from django.core.wsgi import get_wsgi_application

    from koppeling.dev_broker import idp
    from koppeling.dev_broker.tls import tls_files_ensure, tls_server
    from koppeling.saml import artifact
    from koppeling.saml.config import sp_config_reset
    from koppeling.saml.crypto import CryptoBackendXmlSec

    files = tls_files_ensure(directory=Path(settings.EHERKENNING_KEY_DIR))
    pinned = artifact.tls_client_pair()[0]  # the portal's TLS client certificate
    with tls_server(get_wsgi_application(), server=files, client_ca_file=pinned) as base:
        settings.EHERKENNING_DEV_BROKER_ARS_URL = f"{base}/dev/broker/ars/"
        sp_config_reset()
        sp_metadata_memo()
        server = idp.broker_server()
        server.sec.crypto = CryptoBackendXmlSec(server.config.xmlsec_binary)
        print(json.dumps({"ars_url": settings.EHERKENNING_DEV_BROKER_ARS_URL, "ca_file": files.ca_file}))
        sys.stdout.flush()
        os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # nobody reads the pipe any more
        sys.stdin.read()  # until the benchmark closes our standard input


if __name__ == "__main__":
    main()
