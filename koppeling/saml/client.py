"""Reuse one pysaml2 security context per loaded configuration.

pysaml2 builds a fresh SecurityContext for every client: it reloads and re-validates the SP's
RSA private key (about 100 ms with current `cryptography`) and runs ``xmlsec1 --version`` before
every xmlsec1 call. Neither changes while the configuration (keys, metadata) stays the same, and
the context holds no per-request state, so we build it once per configuration object.

A configuration with a ``crypto_backend_factory`` attribute (ours, see config.py) gets that
backend instead of pysaml2's choice: pysaml2 only knows the names "xmlsec1" and "XMLSecurity".
"""

import threading
import weakref

from saml2 import entity
from saml2.sigver import CryptoBackendXmlSec1, security_context

_contexts: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_lock = threading.Lock()


class _VersionCachedXmlSec1(CryptoBackendXmlSec1):
    """The xmlsec1 backend, asking the binary for its version once instead of on every call."""

    _version: str | None = None

    @property
    def version(self):
        if self._version is None:
            self._version = CryptoBackendXmlSec1.version.fget(self)
        return self._version


def security_context_cached(config):
    """The SecurityContext for ``config``, built on first use and shared afterwards."""
    context = _contexts.get(config)
    if context is None:
        with _lock:
            context = _contexts.get(config)
            if context is None:
                context = security_context(config)
                factory = getattr(config, "crypto_backend_factory", None)
                if factory is not None:
                    # Our SP configuration picks its backend (settings.EHERKENNING_CRYPTO_BACKEND).
                    context.crypto = factory(config.xmlsec_binary, delete_tmpfiles=config.delete_tmpfiles)
                elif type(context.crypto) is CryptoBackendXmlSec1:
                    context.crypto.__class__ = _VersionCachedXmlSec1
                _contexts[config] = context
    return context


def install() -> None:
    """Make every pysaml2 entity in this process (djangosaml2's views, our ACS, the dev broker) share
    contexts. Configurations here are built once per process (config.py), so the cache stays small;
    it holds them weakly, so a configuration that is dropped takes its context with it."""
    entity.security_context = security_context_cached
