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

NS_DS = "http://www.w3.org/2000/09/xmldsig#"

SIGNATURE_RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
STRONG_SIGNATURE_METHODS = frozenset(
    {
        SIGNATURE_RSA_SHA256,
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    }
)
STRONG_DIGEST_METHODS = frozenset(
    {
        "http://www.w3.org/2001/04/xmlenc#sha256",
        "http://www.w3.org/2001/04/xmldsig-more#sha384",
        "http://www.w3.org/2001/04/xmlenc#sha512",
    }
)
_SIGNATURE_TRANSFORMS = (
    xmlsec.constants.TransformExclC14N,
    xmlsec.constants.TransformRsaSha256,
    xmlsec.constants.TransformRsaSha384,
    xmlsec.constants.TransformRsaSha512,
)
_REFERENCE_TRANSFORMS = (
    xmlsec.constants.TransformEnveloped,
    xmlsec.constants.TransformExclC14N,
    xmlsec.constants.TransformSha256,
    xmlsec.constants.TransformSha384,
    xmlsec.constants.TransformSha512,
)


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
    signatures = root.findall(f"{{{NS_DS}}}Signature")
    if not signatures:
        raise DocumentSignatureError("unsigned")
    if len(signatures) != 1 or len(list(root.iter(f"{{{NS_DS}}}Signature"))) != 1:
        raise DocumentSignatureError("expected exactly one signature, on the root")
    signature = signatures[0]
    references = signature.findall(f"{{{NS_DS}}}SignedInfo/{{{NS_DS}}}Reference")
    if len(references) != 1:
        raise DocumentSignatureError("expected exactly one reference")
    root_id = root.get("ID")
    uri = references[0].get("URI")
    if not (uri == "" or (root_id and uri == f"#{root_id}")):
        raise DocumentSignatureError("the reference does not point at the root")
    if root_id and sum(1 for element in root.iter() if element.get("ID") == root_id) != 1:
        raise DocumentSignatureError("the root's ID is not unique")
    if signature.find(f"{{{NS_DS}}}Object") is not None:
        raise DocumentSignatureError("ds:Object is not allowed")
    method = signature.find(f"{{{NS_DS}}}SignedInfo/{{{NS_DS}}}SignatureMethod")
    digest = references[0].find(f"{{{NS_DS}}}DigestMethod")
    if (
        method is None
        or digest is None
        or method.get("Algorithm") not in STRONG_SIGNATURE_METHODS
        or digest.get("Algorithm") not in STRONG_DIGEST_METHODS
    ):
        raise DocumentSignatureError("only RSA-SHA256/384/512 signatures are accepted")

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
