"""XML Encryption as an eHerkenning broker does it: the dev broker's side (the portal only decrypts).

An identifier becomes ``saml:EncryptedID`` = ``xenc:EncryptedData`` (AES-256-CBC, or AES-GCM) with
the content key in an ``xenc:EncryptedKey`` (RSA-OAEP, SHA-1 digest, ``Recipient`` = the DV's
entity id, ``ds:KeyName`` = the fingerprint of the DV certificate it is encrypted to). Where the
EncryptedKey goes is the ``layout``:

- ``retrieval``: a sibling of the data, named by ``ds:RetrievalMethod`` (what brokers send);
- ``inline``: inside the data's ``ds:KeyInfo``;
- ``carried``: one sibling EncryptedKey per DV key, each with the same ``CarriedKeyName``, which the
  data names by ``ds:KeyName`` (a DV with a current and a next key).

The same code encrypts a whole assertion into ``saml:EncryptedAssertion`` (inline layout).
"""

import base64
import hashlib
import os
import secrets
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from lxml import etree

NS_SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
NS_XENC = "http://www.w3.org/2001/04/xmlenc#"
NS_XENC11 = "http://www.w3.org/2009/xmlenc11#"
NS_DS = "http://www.w3.org/2000/09/xmldsig#"
NSMAP = {"saml": NS_SAML, "xenc": NS_XENC, "ds": NS_DS}

AES256_CBC = f"{NS_XENC}aes256-cbc"
AES128_CBC = f"{NS_XENC}aes128-cbc"
AES256_GCM = f"{NS_XENC11}aes256-gcm"
RSA_OAEP_MGF1P = f"{NS_XENC}rsa-oaep-mgf1p"
RSA_1_5 = f"{NS_XENC}rsa-1_5"
SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"


@dataclass(frozen=True)
class Recipient:
    """A DV certificate to encrypt to, with the entity id written as the key's Recipient."""

    certificate_pem: bytes
    entity_id: str

    @property
    def key_name(self) -> str:
        der = x509.load_pem_x509_certificate(self.certificate_pem).public_bytes(serialization.Encoding.DER)
        return hashlib.sha256(der).hexdigest()


def recipient_from_file(cert_file: str, entity_id: str) -> Recipient:
    with open(cert_file, "rb") as handle:
        return Recipient(certificate_pem=handle.read(), entity_id=entity_id)


def _q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def _encrypt_content(plaintext: bytes, *, algorithm: str) -> tuple[bytes, bytes]:
    """(content key, ciphertext with IV) for ``plaintext``."""
    if algorithm == AES256_GCM:
        key = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(12)
        return key, nonce + AESGCM(key).encrypt(nonce, plaintext, None)
    size = 32 if algorithm == AES256_CBC else 16
    key = secrets.token_bytes(size)
    iv = os.urandom(16)
    pad = 16 - len(plaintext) % 16
    padded = plaintext + os.urandom(pad - 1) + bytes([pad])  # XML Encryption padding
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return key, iv + encryptor.update(padded) + encryptor.finalize()


def _encrypted_key(
    content_key: bytes, recipient: Recipient, *, key_id: str, transport: str
) -> etree._Element:
    public_key = x509.load_pem_x509_certificate(recipient.certificate_pem).public_key()
    if transport == RSA_1_5:
        wrapped = public_key.encrypt(content_key, padding.PKCS1v15())
    else:
        # rsa-oaep-mgf1p with its default SHA-1 digest, as brokers send it (OAEP with SHA-1 is sound).
        oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)  # noqa: S303
        wrapped = public_key.encrypt(content_key, oaep)
    element = etree.Element(_q(NS_XENC, "EncryptedKey"), nsmap=NSMAP)
    element.set("Id", key_id)
    if recipient.entity_id:
        element.set("Recipient", recipient.entity_id)
    method = etree.SubElement(element, _q(NS_XENC, "EncryptionMethod"), Algorithm=transport)
    if transport != RSA_1_5:
        etree.SubElement(method, _q(NS_DS, "DigestMethod"), Algorithm=SHA1)
    key_info = etree.SubElement(element, _q(NS_DS, "KeyInfo"))
    etree.SubElement(key_info, _q(NS_DS, "KeyName")).text = recipient.key_name
    cipher = etree.SubElement(element, _q(NS_XENC, "CipherData"))
    etree.SubElement(cipher, _q(NS_XENC, "CipherValue")).text = base64.b64encode(wrapped).decode()
    return element


def encrypt_element(
    plaintext: bytes,
    *,
    container: str,
    recipients: list[Recipient],
    layout: str = "retrieval",
    algorithm: str = AES256_CBC,
    transport: str = RSA_OAEP_MGF1P,
) -> etree._Element:
    """``<saml:{container}>`` (EncryptedID, EncryptedAssertion) holding ``plaintext`` (serialised XML)."""
    content_key, ciphertext = _encrypt_content(plaintext, algorithm=algorithm)
    suffix = secrets.token_hex(8)
    data_id = f"_ed{suffix}"
    outer = etree.Element(_q(NS_SAML, container), nsmap=NSMAP)
    data = etree.SubElement(outer, _q(NS_XENC, "EncryptedData"), Id=data_id, Type=f"{NS_XENC}Element")
    etree.SubElement(data, _q(NS_XENC, "EncryptionMethod"), Algorithm=algorithm)
    key_info = etree.SubElement(data, _q(NS_DS, "KeyInfo"))
    cipher = etree.SubElement(data, _q(NS_XENC, "CipherData"))
    etree.SubElement(cipher, _q(NS_XENC, "CipherValue")).text = base64.b64encode(ciphertext).decode()
    keys = [
        _encrypted_key(content_key, recipient, key_id=f"_ek{suffix}{index}", transport=transport)
        for index, recipient in enumerate(recipients)
    ]
    if layout == "inline":
        for key in keys:
            key_info.append(key)
    elif layout == "retrieval":
        for key in keys:
            etree.SubElement(
                key_info,
                _q(NS_DS, "RetrievalMethod"),
                URI=f"#{key.get('Id')}",
                Type=f"{NS_XENC}EncryptedKey",
            )
            outer.append(key)
    elif layout == "carried":
        carried = f"key-{suffix}"
        etree.SubElement(key_info, _q(NS_DS, "KeyName")).text = carried
        for key in keys:
            references = etree.SubElement(key, _q(NS_XENC, "ReferenceList"))
            etree.SubElement(references, _q(NS_XENC, "DataReference"), URI=f"#{data_id}")
            etree.SubElement(key, _q(NS_XENC, "CarriedKeyName")).text = carried
            outer.append(key)
    else:
        raise ValueError(layout)
    return outer


def name_id_xml(*, qualifier: str, value: str) -> bytes:
    """The plaintext of an eHerkenning EncryptedID: a NameID typed by its NameQualifier."""
    name_id = etree.Element(_q(NS_SAML, "NameID"), nsmap={"saml": NS_SAML}, NameQualifier=qualifier)
    name_id.text = value
    return etree.tostring(name_id)


def encrypted_id(
    *, qualifier: str, value: str, recipients: list[Recipient], layout: str = "retrieval", **options
) -> etree._Element:
    return encrypt_element(
        name_id_xml(qualifier=qualifier, value=value),
        container="EncryptedID",
        recipients=recipients,
        layout=layout,
        **options,
    )
