"""Enveloped XML signatures over whole documents: our metadata and dienstcatalogus, the broker's metadata.

eHerkenning's rules for a signed document (eherkenning.md §4): an enveloped ``ds:Signature`` as the
root's first child, one Reference to the root by its ID, exclusive canonicalisation, RSA-SHA256 and a
SHA-256 digest. Signing and verifying are libxmlsec1's (the ``xmlsec`` bindings, as in crypto.py).

Verification is as strict as crypto.py's for assertions: the key is only the certificate handed in
(never one from the document's KeyInfo), a single signature directly in the root whose one Reference
points at the root, no ds:Object, and only exclusive C14N, the enveloped transform and SHA-2 enabled.
"""

import base64
import hashlib

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree
from saml2.sigver import SigverError

# The accepted algorithms and enabled transforms are crypto.py's: documents and assertions are held to
# one rule.
from .crypto import _REFERENCE_TRANSFORMS, _SIGNATURE_TRANSFORMS, NS_DS, CryptoBackendXmlSec


class DocumentSignatureError(Exception):
    """The document is unsigned, signed in a way we do not accept, or the signature does not verify."""


def certificate_load(cert_file: str) -> x509.Certificate:
    with open(cert_file, "rb") as handle:
        return x509.load_pem_x509_certificate(handle.read())


def certificate_base64(certificate: x509.Certificate) -> str:
    """The DER certificate in base64, one line, as ds:X509Certificate carries it."""
    return base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode("ascii")


def certificate_key_name(certificate: x509.Certificate) -> str:
    """The ds:KeyName eHerkenning expects: the hex SHA-256 fingerprint of the certificate (DER)."""
    return hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()


def sign_enveloped(root: etree._Element, *, key_file: str, cert_file: str) -> None:
    """Sign ``root`` in place: a ds:Signature as its first child over the element with its ID.

    ``root`` must carry an ``ID`` attribute. The signature's KeyInfo names the key (KeyName, the
    certificate fingerprint) and carries the certificate.
    """
    root_id = root.get("ID")
    if not root_id:
        raise ValueError("the element to sign needs an ID")
    signature = xmlsec.template.create(
        root, xmlsec.constants.TransformExclC14N, xmlsec.constants.TransformRsaSha256, ns="ds"
    )
    reference = xmlsec.template.add_reference(signature, xmlsec.constants.TransformSha256, uri=f"#{root_id}")
    xmlsec.template.add_transform(reference, xmlsec.constants.TransformEnveloped)
    xmlsec.template.add_transform(reference, xmlsec.constants.TransformExclC14N)
    key_info = xmlsec.template.ensure_key_info(signature)
    certificate = certificate_load(cert_file)
    etree.SubElement(key_info, f"{{{NS_DS}}}KeyName").text = certificate_key_name(certificate)
    x509_data = etree.SubElement(key_info, f"{{{NS_DS}}}X509Data")
    etree.SubElement(x509_data, f"{{{NS_DS}}}X509Certificate").text = certificate_base64(certificate)
    root.insert(0, signature)

    context = xmlsec.SignatureContext()
    context.key = xmlsec.Key.from_file(key_file, xmlsec.constants.KeyDataFormatPem)
    context.register_id(root, "ID")
    context.sign(signature)


def verify_enveloped(root: etree._Element, *, cert_pem: bytes) -> None:
    """Raise DocumentSignatureError unless ``root`` carries a valid signature by ``cert_pem``'s key."""
    if root.find(f"{{{NS_DS}}}Signature") is None:
        raise DocumentSignatureError("unsigned")
    if len(list(root.iter(f"{{{NS_DS}}}Signature"))) != 1:
        raise DocumentSignatureError("expected exactly one signature, on the root")
    root_id = root.get("ID")
    if root_id and sum(1 for element in root.iter() if element.get("ID") == root_id) != 1:
        raise DocumentSignatureError("the root's ID is not unique")
    try:
        # One reference to the root, no ds:Object, RSA-SHA256/384/512 with a SHA-2 digest.
        signature = CryptoBackendXmlSec._enveloped_signature(root, root=root)
    except SigverError as error:
        raise DocumentSignatureError(str(error)) from error

    context = xmlsec.SignatureContext()
    for transform in _SIGNATURE_TRANSFORMS:
        context.enable_signature_transform(transform)
    for transform in _REFERENCE_TRANSFORMS:
        context.enable_reference_transform(transform)
    try:
        context.key = xmlsec.Key.from_memory(cert_pem, xmlsec.constants.KeyDataFormatCertPem)
        if root_id:
            context.register_id(root, "ID")
        context.verify(signature)
    except xmlsec.Error as error:
        raise DocumentSignatureError(f"the signature does not verify: {error}") from error
