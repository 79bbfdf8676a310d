"""Our SP metadata: signing and encryption certificate, AuthnRequestsSigned, WantAssertionsSigned."""

from saml2.metadata import entity_descriptor

from .checks import STRONG_DIGEST_METHODS, STRONG_SIGNATURE_METHODS
from .config import sp_config_load

_cache: dict[int, str] = {}


def sp_metadata_xml() -> str:
    """The SP metadata XML, advertising only the SHA-2 algorithms we accept.

    pysaml2 lists every algorithm xmlsec1 supports (MD5, SHA-1 included), which would invite a
    broker to use one we refuse; we keep only the strong ones.
    """
    config = sp_config_load()
    xml = _cache.get(id(config))
    if xml is None:
        descriptor = entity_descriptor(config)
        if descriptor.extensions is not None:
            strong = STRONG_SIGNATURE_METHODS | STRONG_DIGEST_METHODS
            descriptor.extensions.extension_elements = [
                element
                for element in descriptor.extensions.extension_elements
                if element.attributes.get("Algorithm") in strong
            ]
        xml = str(descriptor)
        _cache.clear()
        _cache[id(config)] = xml
    return xml
