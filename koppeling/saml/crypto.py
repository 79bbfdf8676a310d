"""In-process XML signature verification and decryption for pysaml2, on libxmlsec1 (``xmlsec``).

pysaml2's default backend runs the ``xmlsec1`` program for every signature check and every
decryption: a fork/exec, temporary files and a fresh OpenSSL start each time, over 100 ms per
response on a busy machine (design.md §7, P1). :class:`CryptoBackendXmlSec` does the same work
in-process through the ``xmlsec`` bindings to the same library, and is at least as strict as the
``xmlsec1 --verify --enabled-reference-uris empty,same-doc --enabled-key-data raw-x509-cert``
call it replaces:

- the key is only the certificate pysaml2 hands in, which comes from the broker's metadata: the
  context has a key and no keys manager, so libxmlsec1 never reads a key from the message's KeyInfo;
- the signature must be an enveloped ds:Signature, the single one directly inside the element
  pysaml2 asked about (``node_name`` with ``ID == node_id``, unique in the document), with one
  Reference to exactly that element (``#ID``, or ``""`` when it is the document root);
- only exclusive canonicalisation, the enveloped-signature transform, RSA-SHA256/384/512 and
  SHA-256/384/512 digests are enabled in libxmlsec1 itself, so anything else fails to verify (and
  SHA-1 is refused up front with :class:`WeakSignatureAlgorithmError`);
- no DTD, no entity expansion, no network access while parsing.

Encryption (only the dev broker encrypts) stays with the ``xmlsec1`` program of the base class.
"""

import hashlib
import logging
import threading

import xmlsec
from lxml import etree
from saml2.sigver import CryptoBackendXmlSec1, DecryptError, SignatureError, SigverError

logger = logging.getLogger(__name__)

NS_DS = "http://www.w3.org/2000/09/xmldsig#"
NS_XENC = "http://www.w3.org/2001/04/xmlenc#"

_SIGNATURE_TRANSFORMS = (
    xmlsec.constants.TransformExclC14N,
    xmlsec.constants.TransformExclC14NWithComments,
    xmlsec.constants.TransformRsaSha256,
    xmlsec.constants.TransformRsaSha384,
    xmlsec.constants.TransformRsaSha512,
)
_REFERENCE_TRANSFORMS = (
    xmlsec.constants.TransformEnveloped,
    xmlsec.constants.TransformExclC14N,
    xmlsec.constants.TransformExclC14NWithComments,
    xmlsec.constants.TransformSha256,
    xmlsec.constants.TransformSha384,
    xmlsec.constants.TransformSha512,
)

STRONG_SIGNATURE_METHODS = frozenset(
    {
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
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

_KEY_CACHE_SIZE = 32


class WeakSignatureAlgorithmError(SigverError):
    """The signature uses SHA-1 (or another algorithm we do not accept).

    Not an XmlsecError on purpose: pysaml2 turns those into a generic "failed to verify", and the
    ACS audits this case with its own reason (weak_signature_algorithm), as it does for a plain
    assertion in checks.response_precheck.
    """


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False
    )


def xml_parse(text: str | bytes) -> etree._ElementTree:
    """Parse a SAML document: no DTD (so no entities), nothing fetched from the network."""
    if isinstance(text, str):
        text = text.encode("utf-8")
    try:
        root = etree.fromstring(text, parser=_parser())  # noqa: S320  (hardened parser above)
    except etree.XMLSyntaxError as error:
        raise SignatureError("malformed XML") from error
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise SignatureError("a DTD is not allowed")
    return tree


def _qname(node_name: str) -> str:
    """pysaml2's node names look like ``urn:oasis:names:tc:SAML:2.0:assertion:Assertion``."""
    namespace, _, local = node_name.rpartition(":")
    return f"{{{namespace}}}{local}"


class _KeyCache:
    """Parsed keys by file content: pysaml2 writes the metadata certificate to a new temporary
    file for every check, but its content only changes when the metadata does."""

    def __init__(self):
        self._keys: dict[tuple, xmlsec.Key] = {}
        self._managers: dict[tuple, xmlsec.KeysManager] = {}
        self._lock = threading.Lock()

    def _load(self, path: str, key_format) -> tuple[tuple, xmlsec.Key]:
        with open(path, "rb") as handle:
            data = handle.read()
        cache_key = (hashlib.sha256(data).digest(), key_format)
        key = self._keys.get(cache_key)
        if key is None:
            key = xmlsec.Key.from_memory(data, key_format)
            with self._lock:
                if len(self._keys) >= _KEY_CACHE_SIZE:
                    self._keys.clear()
                self._keys[cache_key] = key
        return cache_key, key

    def get(self, path: str, key_format) -> xmlsec.Key:
        return self._load(path, key_format)[1]

    def manager(self, path: str, key_format) -> xmlsec.KeysManager:
        """A keys manager holding only this key, built once per key content: constructing one costs
        ~16 ms (libxmlsec1 initialises its default stores), and decryption only reads from it."""
        cache_key, key = self._load(path, key_format)
        manager = self._managers.get(cache_key)
        if manager is None:
            manager = xmlsec.KeysManager()
            manager.add_key(key)
            with self._lock:
                if len(self._managers) >= _KEY_CACHE_SIZE:
                    self._managers.clear()
                self._managers[cache_key] = manager
        return manager


class CryptoBackendXmlSec(CryptoBackendXmlSec1):
    """pysaml2 crypto backend: verify, sign and decrypt in-process with libxmlsec1."""

    def __init__(self, xmlsec_binary: str = "/usr/bin/xmlsec1", **kwargs):
        super().__init__(xmlsec_binary, **kwargs)
        self._keys = _KeyCache()

    @property
    def version(self) -> str:
        return ".".join(str(part) for part in xmlsec.get_libxmlsec_version())

    # -- verification ----------------------------------------------------------------------------

    def validate_signature(self, signedtext, cert_file, cert_type, node_name, node_id):
        """Verify the enveloped signature of the ``node_name`` element whose ID is ``node_id``.

        Return True when it verifies with the certificate in ``cert_file``; raise SignatureError
        for a document that breaks the rules above (pysaml2 treats both False and an exception
        as a failed check).
        """
        if cert_type != "pem":
            raise SignatureError(f"unsupported certificate type {cert_type}")
        tree = xml_parse(signedtext)
        root = tree.getroot()
        element = self._signed_element(root, node_name=node_name, node_id=node_id)
        signature = self._enveloped_signature(element, root=root)

        context = xmlsec.SignatureContext()
        for transform in _SIGNATURE_TRANSFORMS:
            context.enable_signature_transform(transform)
        for transform in _REFERENCE_TRANSFORMS:
            context.enable_reference_transform(transform)
        context.key = self._keys.get(cert_file, xmlsec.KeyFormat.CERT_PEM)
        # Register "ID" as an ID attribute on the signed element only, as `--id-attr:ID <node>` did.
        context.register_id(element, "ID")
        try:
            context.verify(signature)
        except xmlsec.Error as error:
            logger.info("XML signature did not verify: %s", error)
            return False
        return True

    @staticmethod
    def _signed_element(root, *, node_name: str, node_id: str | None):
        if not node_id:
            raise SignatureError("no ID for the signed element")
        with_id = [element for element in root.iter() if element.get("ID") == node_id]
        if len(with_id) != 1:
            # A duplicate ID lets the verifier and the reader look at different elements.
            raise SignatureError("the signed element's ID is missing or not unique")
        element = with_id[0]
        if element.tag != _qname(node_name):
            raise SignatureError("the ID belongs to another kind of element")
        return element

    @staticmethod
    def _enveloped_signature(element, *, root):
        signatures = element.findall(f"{{{NS_DS}}}Signature")
        if len(signatures) != 1:
            raise SignatureError("expected exactly one enveloped signature")
        signature = signatures[0]
        references = signature.findall(f"{{{NS_DS}}}SignedInfo/{{{NS_DS}}}Reference")
        if len(references) != 1:
            raise SignatureError("expected exactly one reference")
        uri = references[0].get("URI")
        same_element = uri == f"#{element.get('ID')}" or (uri == "" and element is root)
        if not same_element:
            raise SignatureError("the reference does not point at the signed element")
        if signature.find(f"{{{NS_DS}}}Object") is not None:
            raise SignatureError("ds:Object is not allowed in a SAML signature")
        method = signature.find(f"{{{NS_DS}}}SignedInfo/{{{NS_DS}}}SignatureMethod")
        digest = references[0].find(f"{{{NS_DS}}}DigestMethod")
        if (
            method is None
            or digest is None
            or method.get("Algorithm") not in STRONG_SIGNATURE_METHODS
            or digest.get("Algorithm") not in STRONG_DIGEST_METHODS
        ):
            raise WeakSignatureAlgorithmError("only RSA-SHA256/384/512 signatures are accepted")
        return signature

    # -- signing ---------------------------------------------------------------------------------

    def sign_statement(self, statement, node_name, key_file, node_id):
        """Fill in the ds:Signature template inside the element with ``node_id`` (or the first one)."""
        if not isinstance(statement, str | bytes):
            statement = str(statement)
        tree = xml_parse(statement)
        root = tree.getroot()
        start = root
        if node_id:
            matches = [el for el in root.iter(_qname(node_name)) if el.get("ID") == node_id]
            if len(matches) != 1:
                raise SignatureError("the element to sign is missing or not unique")
            start = matches[0]
        signature = xmlsec.tree.find_node(start, xmlsec.constants.NodeSignature)
        if signature is None:
            raise SignatureError("no signature template")
        context = xmlsec.SignatureContext()
        context.key = self._keys.get(key_file, xmlsec.KeyFormat.PEM)
        for element in root.iter(_qname(node_name)):
            if element.get("ID"):
                context.register_id(element, "ID")
        try:
            context.sign(signature)
        except xmlsec.Error as error:
            raise SignatureError(str(error)) from error
        return etree.tostring(tree, encoding="unicode")

    # -- decryption ------------------------------------------------------------------------------

    def decrypt(self, enctext, key_file):
        """Decrypt the first xenc:EncryptedData in the document, as ``xmlsec1 --decrypt`` does, and
        return the whole document with the plaintext in its place."""
        try:
            tree = xml_parse(enctext)
        except SignatureError as error:
            raise DecryptError(str(error)) from error
        root = tree.getroot()
        encrypted = next(root.iter(f"{{{NS_XENC}}}EncryptedData"), None)
        if encrypted is None:
            raise DecryptError("nothing to decrypt")
        try:
            context = xmlsec.EncryptionContext(self._keys.manager(key_file, xmlsec.KeyFormat.PEM))
            context.decrypt(encrypted)
        except (xmlsec.Error, OSError) as error:
            raise DecryptError(str(error)) from error
        return etree.tostring(tree, encoding="unicode")
