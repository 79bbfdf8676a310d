"""The identity in an eHerkenning 1.13 assertion: EncryptedIDs inside AttributeValues, typed by qualifier.

A real broker does not send the person's pseudonym and the organisation's number as strings. Each
is a ``saml:EncryptedID`` inside the ``saml:AttributeValue``, encrypted to the DV's key, and
decrypts to a ``saml:NameID`` whose ``NameQualifier`` says what the value is (eherkenning.md §3):

    ActingSubjectID  …:EntityConcernedID:Pseudo   the person's specific pseudonym
    LegalSubjectID   …:EntityConcernedID:KvKnr    8 digits   (and/or)
                     …:EntityConcernedID:RSIN     9 digits
    IntermediateEntityID:KvKnr                    the intermediary of a ketenmachtiging
    ServiceRestriction:Vestigingsnr               12 digits (plain text or encrypted)

pysaml2 decrypts an EncryptedID only in the Subject, and its ``get_identity()`` merges the
attribute statements of the assertions inside ``saml:Advice`` into the identity. So the identity
is read here, from the one assertion whose signature pysaml2 verified — the broker's own — and
from its own ``AttributeStatement`` only: nothing inside Advice (the authentication service's and
the machtigingenregister's assertions, evidence we cannot verify) can reach it.

Why decryption is written here with ``cryptography`` rather than with libxmlsec1: which
EncryptedKey to use is a decision of ours (the one whose ``Recipient`` is us, named by the data's
``RetrievalMethod`` or ``CarriedKeyName``, with a ``KeyName`` telling which of our current and next
keys), and libxmlsec1 makes it by its own key-lookup rules, which the Python binding cannot steer;
it would also resolve a RetrievalMethod anywhere in the document. The primitives (RSA-OAEP,
AES-CBC/GCM) are ``cryptography``'s. RSA PKCS#1 v1.5 key transport is refused (Bleichenbacher).
The values are decrypted only after the assertion's signature verified, so nobody can feed us
modified ciphertexts (the CBC padding-oracle attack on XML Encryption needs exactly that).
"""

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.core.exceptions import ValidationError
from lxml import etree

from accounts.validators import validate_rsin
from koppeling.identity import EHerkenningIdentity

from .checks import SamlRefusedError

NS_SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
NS_XENC = "http://www.w3.org/2001/04/xmlenc#"
NS_XENC11 = "http://www.w3.org/2009/xmlenc11#"
NS_DS = "http://www.w3.org/2000/09/xmldsig#"

ATTR_SERVICE_ID = "urn:etoegang:core:ServiceID"
ATTR_SERVICE_UUID = "urn:etoegang:core:ServiceUUID"
ATTR_ACTING_SUBJECT_ID = "urn:etoegang:core:ActingSubjectID"
ATTR_LEGAL_SUBJECT_ID = "urn:etoegang:core:LegalSubjectID"
ATTR_INTERMEDIATE_KVK = "urn:etoegang:1.9:IntermediateEntityID:KvKnr"
ATTR_VESTIGINGSNR = "urn:etoegang:1.9:ServiceRestriction:Vestigingsnr"
ATTR_COMPANY_NAME = "urn:etoegang:1.11:attribute-represented:CompanyName"
ATTR_INTERMEDIATE_COMPANY_NAME = "urn:etoegang:1.13:attribute-intermediate:CompanyName"

QUALIFIER_PSEUDO = {
    "urn:etoegang:1.9:EntityConcernedID:Pseudo",  # 1.9 and 1.11 brokers
    "urn:etoegang:1.13:EntityConcernedID:Pseudo",
}
QUALIFIER_KVK = {"urn:etoegang:1.9:EntityConcernedID:KvKnr", "urn:etoegang:1.13:EntityConcernedID:KvKnr"}
QUALIFIER_RSIN = {"urn:etoegang:1.9:EntityConcernedID:RSIN", "urn:etoegang:1.13:EntityConcernedID:RSIN"}
QUALIFIER_INTERMEDIATE = QUALIFIER_KVK | {ATTR_INTERMEDIATE_KVK}
QUALIFIER_VESTIGING = {ATTR_VESTIGINGSNR, "urn:etoegang:1.13:ServiceRestriction:Vestigingsnr"}

DATA_ALGORITHMS = {
    f"{NS_XENC}aes128-cbc": ("cbc", 16),
    f"{NS_XENC}aes192-cbc": ("cbc", 24),
    f"{NS_XENC}aes256-cbc": ("cbc", 32),
    f"{NS_XENC11}aes128-gcm": ("gcm", 16),
    f"{NS_XENC11}aes192-gcm": ("gcm", 24),
    f"{NS_XENC11}aes256-gcm": ("gcm", 32),
}
KEY_TRANSPORT_OAEP_MGF1P = f"{NS_XENC}rsa-oaep-mgf1p"
KEY_TRANSPORT_OAEP = f"{NS_XENC11}rsa-oaep"
_DIGESTS = {
    "http://www.w3.org/2000/09/xmldsig#sha1": hashes.SHA1,
    "http://www.w3.org/2001/04/xmlenc#sha256": hashes.SHA256,
    "http://www.w3.org/2001/04/xmldsig-more#sha384": hashes.SHA384,
    "http://www.w3.org/2001/04/xmlenc#sha512": hashes.SHA512,
}
_MGFS = {
    f"{NS_XENC11}mgf1sha1": hashes.SHA1,
    f"{NS_XENC11}mgf1sha256": hashes.SHA256,
    f"{NS_XENC11}mgf1sha384": hashes.SHA384,
    f"{NS_XENC11}mgf1sha512": hashes.SHA512,
}

_PSEUDONYM = re.compile(r"[\x21-\x7e]{1,255}")
_KVK = re.compile(r"[0-9]{8}")
_RSIN = re.compile(r"[0-9]{9}")
_VESTIGINGSNR = re.compile(r"[0-9]{12}")
_MAX_CIPHERTEXT = 64 * 1024


@dataclass(frozen=True)
class DecryptionKey:
    """One of our private keys, with the names a broker may use for it in ``ds:KeyName``."""

    private_key: rsa.RSAPrivateKey
    names: frozenset[str]


def _fingerprint_names(certificate: x509.Certificate) -> set[str]:
    der = certificate.public_bytes(serialization.Encoding.DER)
    names = set()
    for digest in (hashlib.sha1(der).hexdigest(), hashlib.sha256(der).hexdigest()):  # noqa: S324  (a name)
        names.add(digest)
    return names


def _normalise_key_name(name: str) -> str:
    return re.sub(r"[\s:]", "", name).lower()


@lru_cache(maxsize=16)
def _decryption_key(key_pem: bytes, cert_pem: bytes) -> DecryptionKey:
    private_key = serialization.load_pem_private_key(key_pem, password=None)
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise ValueError("only RSA keys decrypt eHerkenning identifiers")
    certificate = x509.load_pem_x509_certificate(cert_pem)
    return DecryptionKey(private_key=private_key, names=frozenset(_fingerprint_names(certificate)))


def decryption_keys(keypairs: list[tuple[str, str]]) -> list[DecryptionKey]:
    """Our private keys, current and next, from (key_file, cert_file) pairs (parsed once per content)."""
    keys = []
    for key_file, cert_file in keypairs:
        with open(key_file, "rb") as key_handle, open(cert_file, "rb") as cert_handle:
            keys.append(_decryption_key(key_handle.read(), cert_handle.read()))
    return keys


# --- decryption -----------------------------------------------------------------------------------


def _b64(text: str | None) -> bytes:
    try:
        data = base64.b64decode(re.sub(r"\s+", "", text or ""), validate=True)
    except (binascii.Error, ValueError) as error:
        raise SamlRefusedError("identifier_undecryptable") from error
    if not data or len(data) > _MAX_CIPHERTEXT:
        raise SamlRefusedError("identifier_undecryptable")
    return data


def _cipher_value(element) -> bytes:
    values = element.findall(f"{{{NS_XENC}}}CipherData/{{{NS_XENC}}}CipherValue")
    if len(values) != 1:
        raise SamlRefusedError("identifier_undecryptable")
    return _b64(values[0].text)


def _candidate_keys(encrypted_id, data, *, recipient: str) -> list:
    """The EncryptedKeys that may hold the data key, in the order to try them.

    Only inside this EncryptedID: inline in the data's KeyInfo, or siblings of the data named by its
    RetrievalMethod or (several of them, one per DV key) by CarriedKeyName. A key addressed to
    another Recipient is never used.
    """
    key_info = data.find(f"{{{NS_DS}}}KeyInfo")
    inline = key_info.findall(f"{{{NS_XENC}}}EncryptedKey") if key_info is not None else []
    siblings = encrypted_id.findall(f"{{{NS_XENC}}}EncryptedKey")
    candidates = list(inline)
    if key_info is not None:
        retrieval = key_info.findall(f"{{{NS_DS}}}RetrievalMethod")
        names = [name.text or "" for name in key_info.findall(f"{{{NS_DS}}}KeyName")]
        for method in retrieval:
            uri = method.get("URI") or ""
            if not uri.startswith("#"):
                raise SamlRefusedError("identifier_undecryptable")  # never anything outside this element
            candidates += [key for key in siblings if key.get("Id") == uri[1:]]
        if names:
            candidates += [
                key
                for key in siblings
                if (key.findtext(f"{{{NS_XENC}}}CarriedKeyName") or "").strip() in {n.strip() for n in names}
            ]
    if not candidates and key_info is None:
        candidates = list(siblings)
    seen, ordered = set(), []
    for key in candidates:
        if id(key) in seen:
            continue
        seen.add(id(key))
        if key.get("Recipient") not in (None, "", recipient):
            continue
        ordered.append(key)
    return ordered


def _oaep(method) -> padding.OAEP:
    algorithm = method.get("Algorithm") if method is not None else None
    digest_method = method.find(f"{{{NS_DS}}}DigestMethod") if method is not None else None
    digest = _DIGESTS.get(digest_method.get("Algorithm")) if digest_method is not None else hashes.SHA1
    if digest is None:
        raise SamlRefusedError("identifier_algorithm")
    if algorithm == KEY_TRANSPORT_OAEP_MGF1P:
        mgf = hashes.SHA1  # rsa-oaep-mgf1p: MGF1 with SHA-1 by definition
    elif algorithm == KEY_TRANSPORT_OAEP:
        mgf_element = method.find(f"{{{NS_XENC11}}}MGF")
        mgf = _MGFS.get(mgf_element.get("Algorithm")) if mgf_element is not None else hashes.SHA1
        if mgf is None:
            raise SamlRefusedError("identifier_algorithm")
    else:
        raise SamlRefusedError("identifier_algorithm")  # rsa-1_5 and anything else
    params = method.find(f"{{{NS_XENC}}}OAEPparams")
    label = _b64(params.text) if params is not None else None
    return padding.OAEP(mgf=padding.MGF1(algorithm=mgf()), algorithm=digest(), label=label)


def _unwrap_key(encrypted_key, keys: list[DecryptionKey], *, size: int) -> bytes | None:
    oaep = _oaep(encrypted_key.find(f"{{{NS_XENC}}}EncryptionMethod"))
    wrapped = _cipher_value(encrypted_key)
    names = {
        _normalise_key_name(name.text or "")
        for name in encrypted_key.findall(f"{{{NS_DS}}}KeyInfo/{{{NS_DS}}}KeyName")
    }
    # The key the broker names first; any other of ours after (a broker's KeyName may be its own).
    ordered = sorted(keys, key=lambda key: not (key.names & names))
    for key in ordered:
        try:
            secret = key.private_key.decrypt(wrapped, oaep)
        except ValueError:
            continue
        if len(secret) == size:
            return secret
    return None


def _decrypt_data(data, secret: bytes, mode: str) -> bytes:
    ciphertext = _cipher_value(data)
    try:
        if mode == "gcm":
            if len(ciphertext) < 12 + 16:
                raise SamlRefusedError("identifier_undecryptable")
            return AESGCM(secret).decrypt(ciphertext[:12], ciphertext[12:], None)
        if len(ciphertext) < 32 or len(ciphertext) % 16:
            raise SamlRefusedError("identifier_undecryptable")
        decryptor = Cipher(algorithms.AES(secret), modes.CBC(ciphertext[:16])).decryptor()
        plain = decryptor.update(ciphertext[16:]) + decryptor.finalize()
    except SamlRefusedError:
        raise
    except Exception as error:  # noqa: BLE001  (InvalidTag and friends: a value we cannot read)
        raise SamlRefusedError("identifier_undecryptable") from error
    pad = plain[-1]
    if not 1 <= pad <= 16:  # XML Encryption padding: only the last octet is defined
        raise SamlRefusedError("identifier_undecryptable")
    return plain[:-pad]


_WRAPPER = (
    f'<w xmlns:saml="{NS_SAML}" xmlns:xs="http://www.w3.org/2001/XMLSchema" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
).encode()


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False
    )


def encrypted_id_decrypt(encrypted_id, *, keys: list[DecryptionKey], recipient: str):
    """The ``saml:NameID`` inside one ``saml:EncryptedID`` (an lxml element), or SamlRefusedError."""
    datas = encrypted_id.findall(f"{{{NS_XENC}}}EncryptedData")
    if len(datas) != 1:
        raise SamlRefusedError("identifier_undecryptable")
    data = datas[0]
    method = data.find(f"{{{NS_XENC}}}EncryptionMethod")
    algorithm = DATA_ALGORITHMS.get(method.get("Algorithm") if method is not None else None)
    if algorithm is None:
        raise SamlRefusedError("identifier_algorithm")
    mode, size = algorithm
    for encrypted_key in _candidate_keys(encrypted_id, data, recipient=recipient):
        secret = _unwrap_key(encrypted_key, keys, size=size)
        if secret is not None:
            break
    else:
        raise SamlRefusedError("identifier_undecryptable")
    plaintext = _decrypt_data(data, secret, mode)
    if b"<!" in plaintext:  # no DTD, no comment games, no CDATA: a NameID is plain markup
        raise SamlRefusedError("identifier_undecryptable")
    try:
        wrapper = etree.fromstring(_WRAPPER + plaintext + b"</w>", parser=_parser())  # noqa: S320
    except etree.XMLSyntaxError as error:
        raise SamlRefusedError("identifier_undecryptable") from error
    children = list(wrapper)
    if len(children) != 1 or children[0].tag != f"{{{NS_SAML}}}NameID" or (wrapper.text or "").strip():
        raise SamlRefusedError("identifier_undecryptable")
    return children[0]


# --- the identity ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TypedValue:
    qualifier: str  # NameQualifier of the decrypted NameID ("" for a plain-text value)
    value: str


def _attribute_values(statement) -> dict[str, list]:
    values: dict[str, list] = {}
    for attribute in statement.findall(f"{{{NS_SAML}}}Attribute"):
        name = attribute.get("Name") or ""
        values.setdefault(name, []).extend(attribute.findall(f"{{{NS_SAML}}}AttributeValue"))
    return values


def _typed(value_element, *, name: str, keys, recipient: str, plain_allowed: bool) -> TypedValue:
    children = list(value_element)
    if not children:
        if not plain_allowed:
            raise SamlRefusedError(f"plain_identifier:{name}")
        return TypedValue("", (value_element.text or "").strip())
    if (
        len(children) != 1
        or children[0].tag != f"{{{NS_SAML}}}EncryptedID"
        or (value_element.text or "").strip()
    ):
        raise SamlRefusedError(f"invalid:{name}")
    name_id = encrypted_id_decrypt(children[0], keys=keys, recipient=recipient)
    return TypedValue((name_id.get("NameQualifier") or "").strip(), (name_id.text or "").strip())


def _text(value_element) -> str:
    if len(value_element):
        return ""
    return "".join(ch for ch in (value_element.text or "") if ch.isprintable()).strip()


def identity_from_assertion(
    *,
    assertion,
    level: str,
    service_id: str,
    keys: list[DecryptionKey],
    recipient: str,
    plain_allowed: bool = False,
    accept_vestiging: bool = False,
) -> EHerkenningIdentity:
    """Read and check the identity in the broker's own, verified assertion (an lxml element).

    Only the assertion's own AttributeStatement counts: Advice is never looked into. The ServiceID
    must be ours (a machtiging for another service at the same broker must not open this portal);
    the identifiers must decrypt, carry a known qualifier and be well-formed, because they become
    the link key. Plain-text identifiers only when ``plain_allowed`` (test brokers that do not
    encrypt; EHERKENNING_PLAIN_IDENTIFIERS).
    """
    statements = assertion.findall(f"{{{NS_SAML}}}AttributeStatement")
    if len(statements) != 1:
        raise SamlRefusedError("attribute_statement_count")
    values = _attribute_values(statements[0])

    service = [_text(value) for value in values.get(ATTR_SERVICE_ID, [])]
    if not service or not service[0]:
        raise SamlRefusedError(f"missing:{ATTR_SERVICE_ID}", status=403)
    if len(service) != 1:
        raise SamlRefusedError(f"invalid:{ATTR_SERVICE_ID}")
    if service[0] != service_id:
        raise SamlRefusedError("service_id_mismatch", status=403)

    def typed(name: str) -> list[TypedValue]:
        return [
            _typed(value, name=name, keys=keys, recipient=recipient, plain_allowed=plain_allowed)
            for value in values.get(name, [])
        ]

    acting_values = typed(ATTR_ACTING_SUBJECT_ID)
    if not acting_values:
        raise SamlRefusedError(f"missing:{ATTR_ACTING_SUBJECT_ID}")
    if len(acting_values) != 1:
        raise SamlRefusedError(f"invalid:{ATTR_ACTING_SUBJECT_ID}")
    acting = acting_values[0]
    if acting.qualifier and acting.qualifier not in QUALIFIER_PSEUDO:
        raise SamlRefusedError(f"qualifier:{ATTR_ACTING_SUBJECT_ID}")
    if not _PSEUDONYM.fullmatch(acting.value):
        raise SamlRefusedError(f"invalid:{ATTR_ACTING_SUBJECT_ID}")

    kvk, rsin = _legal_numbers(typed(ATTR_LEGAL_SUBJECT_ID))

    intermediate = ""
    intermediate_values = typed(ATTR_INTERMEDIATE_KVK)
    if len(intermediate_values) > 1:
        raise SamlRefusedError(f"invalid:{ATTR_INTERMEDIATE_KVK}")
    if intermediate_values:
        found = intermediate_values[0]
        if found.qualifier and found.qualifier not in QUALIFIER_INTERMEDIATE:
            raise SamlRefusedError(f"qualifier:{ATTR_INTERMEDIATE_KVK}")
        if not _KVK.fullmatch(found.value):
            raise SamlRefusedError(f"invalid:{ATTR_INTERMEDIATE_KVK}")
        intermediate = found.value

    vestigingsnr = _vestigingsnr(values.get(ATTR_VESTIGINGSNR, []), keys=keys, recipient=recipient)
    if vestigingsnr and not accept_vestiging:
        # We did not list the restriction in the catalogue, so we cannot promise to respect it.
        raise SamlRefusedError("vestiging_not_accepted", status=403)

    company = next((_text(value) for value in values.get(ATTR_COMPANY_NAME, [])), "")[:255]
    intermediate_company = next(
        (_text(value) for value in values.get(ATTR_INTERMEDIATE_COMPANY_NAME, [])), ""
    )[:255]
    return EHerkenningIdentity(
        acting_subject_id=acting.value,
        legal_subject_id=kvk or rsin,
        level=level,
        intermediate_entity_id=intermediate,
        company_name=company,
        legal_subject_rsin=rsin if kvk else "",
        vestigingsnr=vestigingsnr,
        intermediate_company_name=intermediate_company,
    )


def _legal_numbers(values: list[TypedValue]) -> tuple[str, str]:
    """(KvK-nummer, RSIN) from the LegalSubjectID values: one of each at most, at least one."""
    if not values:
        raise SamlRefusedError(f"missing:{ATTR_LEGAL_SUBJECT_ID}")
    kvk = rsin = ""
    for found in values:
        if found.qualifier in QUALIFIER_KVK or (not found.qualifier and _KVK.fullmatch(found.value)):
            if kvk or not _KVK.fullmatch(found.value):
                raise SamlRefusedError(f"invalid:{ATTR_LEGAL_SUBJECT_ID}")
            kvk = found.value
        elif found.qualifier in QUALIFIER_RSIN or (not found.qualifier and _RSIN.fullmatch(found.value)):
            if rsin or not _rsin_valid(found.value):
                raise SamlRefusedError(f"invalid:{ATTR_LEGAL_SUBJECT_ID}")
            rsin = found.value
        elif found.qualifier:
            raise SamlRefusedError(f"qualifier:{ATTR_LEGAL_SUBJECT_ID}")
        else:
            raise SamlRefusedError(f"invalid:{ATTR_LEGAL_SUBJECT_ID}")
    return kvk, rsin


def _rsin_valid(value: str) -> bool:
    try:
        validate_rsin(value)  # 9 digits and the elfproef
    except ValidationError:
        return False
    return True


def _vestigingsnr(value_elements: list, *, keys, recipient: str) -> str:
    """The Vestigingsnr restriction: plain 12 digits (as brokers send it) or an EncryptedID."""
    if not value_elements:
        return ""
    if len(value_elements) != 1:
        raise SamlRefusedError(f"invalid:{ATTR_VESTIGINGSNR}")
    found = _typed(
        value_elements[0], name=ATTR_VESTIGINGSNR, keys=keys, recipient=recipient, plain_allowed=True
    )
    if found.qualifier and found.qualifier not in QUALIFIER_VESTIGING:
        raise SamlRefusedError(f"qualifier:{ATTR_VESTIGINGSNR}")
    if not _VESTIGINGSNR.fullmatch(found.value):
        raise SamlRefusedError(f"invalid:{ATTR_VESTIGINGSNR}")
    return found.value
