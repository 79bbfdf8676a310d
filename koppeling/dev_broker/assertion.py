"""The dev broker's assertion in the real 1.13 format (eherkenning.md §3).

pysaml2's IdP (``Server.create_authn_response``) writes the response and its unsigned assertion:
subject with bearer confirmation, conditions, authentication statement, attribute statement.
What a broker does beyond that happens here, before anything is signed:

- identifiers become ``saml:EncryptedID`` inside their ``saml:AttributeValue`` (xmlenc.py);
- ``saml:Advice`` holds the authentication service's (AD) and the machtigingenregister's (MR)
  assertions, each signed by its own issuer; the MR's carries an XACML authorisation decision;
- the broker signs its assertion (enveloped, exc-c14n with InclusiveNamespaces ``xacml-saml``,
  RSA-SHA256), optionally encrypts it into ``saml:EncryptedAssertion``, and optionally signs the
  response.
"""

import datetime
import secrets
from dataclasses import dataclass

import xmlsec
from lxml import etree

from . import xmlenc

NS_SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
NS_SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
NS_DS = "http://www.w3.org/2000/09/xmldsig#"
NS_XSI = "http://www.w3.org/2001/XMLSchema-instance"
NS_EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
NS_XACML_SAML = "urn:oasis:names:tc:xacml:2.0:profile:saml2.0:v2:schema:assertion"
NS_XACML_CONTEXT = "urn:oasis:names:tc:xacml:2.0:context:schema:os"

QUALIFIER_PSEUDO = "urn:etoegang:1.13:EntityConcernedID:Pseudo"
QUALIFIER_PSEUDO_1_9 = "urn:etoegang:1.9:EntityConcernedID:Pseudo"
QUALIFIER_KVK = "urn:etoegang:1.9:EntityConcernedID:KvKnr"
QUALIFIER_RSIN = "urn:etoegang:1.9:EntityConcernedID:RSIN"
QUALIFIER_INTERMEDIATE = "urn:etoegang:1.9:IntermediateEntityID:KvKnr"

AD_ENTITY_ID = "urn:etoegang:AD:00000009999999990000:entities:9001"
MR_ENTITY_ID = "urn:etoegang:MR:00000009999999990000:entities:9002"


@dataclass(frozen=True)
class Identifier:
    """An attribute value the broker sends as EncryptedID (a NameID of this qualifier)."""

    qualifier: str
    value: str


def _q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, remove_blank_text=False)


def sign(element, *, key_file: str, cert_file: str, sha1: bool = False, key_name: bool = False) -> None:
    """Sign ``element`` (it has an ID) with an enveloped signature placed after its Issuer."""
    method = xmlsec.constants.TransformRsaSha1 if sha1 else xmlsec.constants.TransformRsaSha256
    digest = xmlsec.constants.TransformSha1 if sha1 else xmlsec.constants.TransformSha256
    signature = xmlsec.template.create(element, xmlsec.constants.TransformExclC14N, method, ns="ds")
    issuer = element.find(_q(NS_SAML, "Issuer"))
    element.insert(element.index(issuer) + 1 if issuer is not None else 0, signature)
    reference = xmlsec.template.add_reference(signature, digest, uri=f"#{element.get('ID')}")
    xmlsec.template.add_transform(reference, xmlsec.constants.TransformEnveloped)
    c14n = xmlsec.template.add_transform(reference, xmlsec.constants.TransformExclC14N)
    etree.SubElement(c14n, _q(NS_EXC_C14N, "InclusiveNamespaces"), PrefixList="xacml-saml")
    key_info = xmlsec.template.ensure_key_info(signature)
    if key_name:
        xmlsec.template.add_key_name(key_info)
    xmlsec.template.add_x509_data(key_info)
    context = xmlsec.SignatureContext()
    key = xmlsec.Key.from_file(key_file, xmlsec.constants.KeyDataFormatPem)
    key.load_cert_from_file(cert_file, xmlsec.constants.KeyDataFormatPem)
    key.name = "broker"
    context.key = key
    context.register_id(element, "ID")
    context.sign(signature)


def _instant(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _advice_assertion(*, issuer: str, audience: str, now: datetime.datetime, level: str) -> etree._Element:
    assertion = etree.Element(
        _q(NS_SAML, "Assertion"),
        nsmap={"saml": NS_SAML, "xsi": NS_XSI, "xs": "http://www.w3.org/2001/XMLSchema"},
        ID=f"_{secrets.token_hex(16)}",
        Version="2.0",
        IssueInstant=_instant(now),
    )
    etree.SubElement(assertion, _q(NS_SAML, "Issuer")).text = issuer
    subject = etree.SubElement(assertion, _q(NS_SAML, "Subject"))
    etree.SubElement(
        subject, _q(NS_SAML, "NameID"), Format="urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
    ).text = f"_{secrets.token_hex(12)}"
    confirmation = etree.SubElement(
        subject, _q(NS_SAML, "SubjectConfirmation"), Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"
    )
    etree.SubElement(confirmation, _q(NS_SAML, "SubjectConfirmationData"))
    conditions = etree.SubElement(
        assertion,
        _q(NS_SAML, "Conditions"),
        NotBefore=_instant(now - datetime.timedelta(minutes=1)),
        NotOnOrAfter=_instant(now + datetime.timedelta(minutes=5)),
    )
    restriction = etree.SubElement(conditions, _q(NS_SAML, "AudienceRestriction"))
    etree.SubElement(restriction, _q(NS_SAML, "Audience")).text = audience
    return assertion


def advice_build(
    *,
    broker_entity_id: str,
    level: str,
    now: datetime.datetime,
    recipients: list[xmlenc.Recipient],
    acting_subject_id: str,
    legal_subject_id: str,
    ad_keys: tuple[str, str],
    mr_keys: tuple[str, str],
) -> etree._Element:
    """``saml:Advice`` with the AD's and the MR's assertions, each signed by its own key.

    The AD asserts the person (with an ActingSubjectID of its own), the MR the machtiging as an
    XACML decision and a LegalSubjectID. A DV cannot verify either signature and must use nothing
    of them: the tests put other identifiers here to prove it.
    """
    advice = etree.Element(_q(NS_SAML, "Advice"), nsmap={"saml": NS_SAML})

    ad = _advice_assertion(issuer=AD_ENTITY_ID, audience=broker_entity_id, now=now, level=level)
    authn = etree.SubElement(ad, _q(NS_SAML, "AuthnStatement"), AuthnInstant=_instant(now))
    context = etree.SubElement(authn, _q(NS_SAML, "AuthnContext"))
    etree.SubElement(context, _q(NS_SAML, "AuthnContextClassRef")).text = level
    etree.SubElement(context, _q(NS_SAML, "AuthenticatingAuthority")).text = AD_ENTITY_ID
    statement = etree.SubElement(ad, _q(NS_SAML, "AttributeStatement"))
    attribute = etree.SubElement(
        statement,
        _q(NS_SAML, "Attribute"),
        Name="urn:etoegang:core:ActingSubjectID",
        NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri",
    )
    value = etree.SubElement(attribute, _q(NS_SAML, "AttributeValue"))
    value.append(
        xmlenc.encrypted_id(qualifier=QUALIFIER_PSEUDO, value=acting_subject_id, recipients=recipients)
    )
    sign(ad, key_file=ad_keys[0], cert_file=ad_keys[1])
    advice.append(ad)

    mr = _advice_assertion(issuer=MR_ENTITY_ID, audience=broker_entity_id, now=now, level=level)
    decision = etree.SubElement(
        mr,
        _q(NS_SAML, "Statement"),
        nsmap={"xacml-saml": NS_XACML_SAML, "xacml-context": NS_XACML_CONTEXT},
    )
    decision.set(_q(NS_XSI, "type"), "xacml-saml:XACMLAuthzDecisionStatementType")
    response = etree.SubElement(decision, _q(NS_XACML_CONTEXT, "Response"))
    result = etree.SubElement(response, _q(NS_XACML_CONTEXT, "Result"))
    etree.SubElement(result, _q(NS_XACML_CONTEXT, "Decision")).text = "Permit"
    statement = etree.SubElement(mr, _q(NS_SAML, "AttributeStatement"))
    attribute = etree.SubElement(
        statement,
        _q(NS_SAML, "Attribute"),
        Name="urn:etoegang:core:LegalSubjectID",
        NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri",
    )
    value = etree.SubElement(attribute, _q(NS_SAML, "AttributeValue"))
    value.append(xmlenc.encrypted_id(qualifier=QUALIFIER_KVK, value=legal_subject_id, recipients=recipients))
    sign(mr, key_file=mr_keys[0], cert_file=mr_keys[1])
    advice.append(mr)
    return advice


def response_finish(
    xml: str,
    *,
    identifiers: dict[str, Identifier],
    recipients: list[xmlenc.Recipient],
    layout: str,
    advice: etree._Element | None,
    key_file: str,
    cert_file: str,
    sha1: bool,
    encrypt: bool,
    sign_response: bool,
    data_algorithm: str = xmlenc.AES256_CBC,
    transport: str = xmlenc.RSA_OAEP_MGF1P,
    audience: str | None = None,
) -> str:
    """Turn pysaml2's unsigned response into the broker's: EncryptedIDs (``identifiers`` maps the
    placeholder text pysaml2 wrote to the identifier it stands for), Advice, signature(s), and
    optionally an EncryptedAssertion."""
    root = etree.fromstring(xml.encode("utf-8"), parser=_parser())  # noqa: S320  (our own document)
    assertion = root.find(_q(NS_SAML, "Assertion"))
    if audience is not None:
        for element in assertion.iter(_q(NS_SAML, "Audience")):
            element.text = audience
    for value in assertion.iter(_q(NS_SAML, "AttributeValue")):
        identifier = identifiers.get((value.text or "").strip())
        if identifier is None:
            continue
        value.text = None
        value.attrib.pop(_q(NS_XSI, "type"), None)
        value.append(
            xmlenc.encrypted_id(
                qualifier=identifier.qualifier,
                value=identifier.value,
                recipients=recipients,
                layout=layout,
                algorithm=data_algorithm,
                transport=transport,
            )
        )
    if advice is not None:
        conditions = assertion.find(_q(NS_SAML, "Conditions"))
        anchor = conditions if conditions is not None else assertion.find(_q(NS_SAML, "Subject"))
        assertion.insert(assertion.index(anchor) + 1, advice)
    sign(assertion, key_file=key_file, cert_file=cert_file, sha1=sha1)
    if encrypt:
        plaintext = etree.tostring(assertion)
        encrypted = xmlenc.encrypt_element(
            plaintext, container="EncryptedAssertion", recipients=recipients[:1], layout="inline"
        )
        root.replace(assertion, encrypted)
    if sign_response:
        sign(root, key_file=key_file, cert_file=cert_file, sha1=sha1)
    return etree.tostring(root, encoding="unicode")
