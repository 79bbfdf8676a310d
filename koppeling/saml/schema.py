"""XML Schema validation of signed SAML elements on libxml2, for pysaml2.

Before it checks a signature, pysaml2 validates the signed element (the Response or the Assertion)
against the SAML 2.0 schemas with the pure-Python ``xmlschema`` package: about 3 ms of the ACS's
time per response, more than the signature check itself (design.md §7, P1). :func:`validate` does
the same validation with libxml2's XML Schema validator (through lxml, which we already use for the
signature), compiled once per process from **the schema set pysaml2's own validator loads** (read
from it: SAML protocol, assertion and metadata, xmldsig, xmlenc 1.0 and 1.1, SOAP envelope, eIDAS),
from the same local files, with their imports resolved to the same files. OneLogin's python3-saml
validates SAML messages with libxml2 this way.

The rules are pysaml2's; the engine differs, and tests/koppeling/test_saml_schema.py runs both over
valid and broken documents and requires the same verdict. Known differences of the engines, kept
as strict xfails there: libxml2 refuses whitespace around an xs:dateTime and malformed
percent-escapes in an xs:anyURI (stricter), and accepts non-base64 characters in a
base64Binary (the signature check that follows refuses such a document anyway).

Schema files are read from disk only; no document or schema can make libxml2 fetch anything over
the network, read a DTD or expand an entity.
"""

import threading
from importlib.resources import files
from pathlib import Path
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

import saml2.data.schemas
from lxml import etree
from saml2 import sigver
from saml2.xml.schema import XMLSchemaError
from saml2.xml.schema import _schema_validator_default as pysaml2_validator
from saml2.xml.schema import validate as xmlschema_validate

_SCHEMAS = files(saml2.data.schemas)

# The remote locations in the schemas' <import> elements, served from pysaml2's local copies (as
# pysaml2 does for xmlschema in saml2/xml/schema/__init__.py).
_LOCATIONS = {
    "http://www.w3.org/TR/2002/REC-xmldsig-core-20020212/xmldsig-core-schema.xsd": "xmldsig-core-schema.xsd",
    "http://www.w3.org/TR/2002/REC-xmlenc-core-20021210/xenc-schema.xsd": "xenc-schema.xsd",
    "http://www.w3.org/2001/xml.xsd": "xml.xsd",
    "http://www.w3.org/2009/01/xml.xsd": "xml.xsd",
    "http://schemas.xmlsoap.org/soap/envelope/": "envelope.xsd",
}
_BUNDLE_NAMESPACE = "urn:mijnduo:saml-schema-bundle"

_lock = threading.Lock()
_schema: etree.XMLSchema | None = None


class _LocalSchemas(etree.Resolver):
    """Resolve schema imports to pysaml2's local files; refuse anything else that is not local."""

    def resolve(self, system_url, public_id, context):
        local = _LOCATIONS.get(system_url)
        if local is not None:
            return self.resolve_filename(str(_SCHEMAS.joinpath(local)), context)
        if system_url and "://" in system_url and not system_url.startswith("file:"):
            raise XMLSchemaError({"error": f"schema import outside pysaml2's schemas: {system_url}"})
        return None


def _document_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False
    )


def _pysaml2_schema_files() -> dict[str, str]:
    """Namespace → local file of every schema pysaml2's own validator loaded from its data files."""
    local = Path(str(_SCHEMAS)).resolve()
    found = {}
    for namespace, schemas in pysaml2_validator.maps.namespaces.items():
        for schema in schemas:
            path = Path(urlsplit(schema.url or "").path).resolve()
            if path.parent == local:
                found[namespace] = path.as_uri()
    return found


def _bundle() -> bytes:
    imports = "".join(
        f'<xs:import namespace="{escape(namespace)}" schemaLocation="{escape(location)}"/>'
        for namespace, location in sorted(_pysaml2_schema_files().items())
    )
    return (
        f'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="{_BUNDLE_NAMESPACE}">'
        f"{imports}</xs:schema>"
    ).encode()


def _compiled() -> etree.XMLSchema:
    """pysaml2's schema set, compiled once: a bundle that imports each of its namespaces."""
    global _schema
    if _schema is None:
        with _lock:
            if _schema is None:
                parser = _document_parser()
                parser.resolvers.add(_LocalSchemas())
                source = etree.fromstring(
                    _bundle(), parser=parser, base_url=(Path(str(_SCHEMAS)) / "bundle.xsd").as_uri()
                )  # noqa: S320
                _schema = etree.XMLSchema(source)
    return _schema


def validate(doc: str | bytes) -> None:
    """Raise pysaml2's XMLSchemaError unless ``doc`` is valid against the SAML 2.0 schemas."""
    schema = _compiled()
    data = doc.encode("utf-8") if isinstance(doc, str) else doc
    try:
        tree = etree.fromstring(data, parser=_document_parser())  # noqa: S320  (hardened parser)
    except (etree.XMLSyntaxError, ValueError) as error:
        raise XMLSchemaError({"doc": doc, "error": str(error)}) from error
    if tree.getroottree().docinfo.internalDTD is not None:
        raise XMLSchemaError({"doc": doc, "error": "a DTD is not allowed"})
    _advice_xacml_statements_drop(tree)
    # lxml makes a new libxml2 validation context per call; only the error log is kept on the
    # schema object, so with threads the message may come from another call, never the verdict.
    if not schema.validate(tree):
        raise XMLSchemaError({"doc": doc, "error": str(schema.error_log.last_error)})


_XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
# The XACML profile of SAML 2.0 (eherkenning.md §3: the machtigingenregister's decision in Advice).
_XACML_SAML = "urn:oasis:names:tc:xacml:2.0:profile:saml2.0:v2:schema:assertion"
_XACML_STATEMENT_TYPES = {"XACMLAuthzDecisionStatementType", "XACMLPolicyStatementType"}


def _advice_xacml_statements_drop(tree) -> None:
    """Leave the XACML decision statements inside saml:Advice out of the validation.

    eHerkenning brokers put the machtigingenregister's assertion in Advice, with a
    ``saml:Statement xsi:type="xacml-saml:XACMLAuthzDecisionStatementType"``: a type from the XACML
    SAML profile, whose schema pysaml2 does not ship, so no validator of ours could accept it.
    Only those statements, and only inside Advice, are dropped from this parsed copy; everything
    else, the rest of the Advice included, is validated as before. Nothing in Advice is ever read
    (identifiers.py), and the signature check reads the document itself, not this copy.
    """
    for advice in tree.iter("{urn:oasis:names:tc:SAML:2.0:assertion}Advice"):
        for statement in list(advice.iter("{urn:oasis:names:tc:SAML:2.0:assertion}Statement")):
            prefix, _, local = (statement.get(_XSI_TYPE) or "").rpartition(":")
            namespace = statement.nsmap.get(prefix or None)
            # pysaml2 hands us its own re-serialisation of the element, which loses the declaration
            # of the prefix: an unbound prefix with the XACML type name is that statement too.
            if local in _XACML_STATEMENT_TYPES and namespace in (_XACML_SAML, None):
                statement.getparent().remove(statement)


def install() -> None:
    """Make pysaml2's signature check validate with :func:`validate` (compiling the schema now)."""
    _compiled()
    sigver.validate_doc_with_schema = validate


def uninstall() -> None:
    """Back to pysaml2's own validator (the bench's baseline: pysaml2 as shipped)."""
    sigver.validate_doc_with_schema = xmlschema_validate
