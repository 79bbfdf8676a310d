"""The username letter is a tagged, accessible PDF (issue 17 item 5; PDF/UA-1, WCAG for PDF): a
structure tree in reading order (headings, paragraphs, the steps as a list), every piece of text
marked content that belongs to it, the document language, the title shown as the window title, XMP
metadata declaring PDF/UA, embedded fonts. veraPDF is not installable here (no PyPI/Debian package),
so the structure is inspected with pypdf."""

from io import BytesIO

import pytest
from pypdf import PdfReader
from pypdf.generic import ContentStream

from beheer.letters import letter_pdf
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

READING_ORDER = [
    "P",  # word mark
    "P",  # date
    "P",  # address block
    "H1",
    "P",  # salutation
    "P",  # who registered you
    "P",  # "Your username:"
    "P",  # the username
    "P",  # about its characters
    "H2",
    "L",
    "P",  # keep this letter safe
    "P",  # footer
]


def structure(element) -> list:
    element = element.get_object()
    kids = [kid for kid in element["/K"] if not isinstance(kid, int)]
    return [str(element["/S"])[1:], [structure(kid) for kid in kids]]


def marked_content_ids(node) -> list[int]:
    node = node.get_object()
    ids = [int(kid) for kid in node["/K"] if isinstance(kid, int)]
    for kid in node["/K"]:
        if not isinstance(kid, int):
            ids += marked_content_ids(kid)
    return ids


@pytest.fixture
def reader():
    account = AccountFactory(name="Şahin Nguyễn", language="nl")
    return PdfReader(BytesIO(letter_pdf(account=account)))


def test_the_letter_declares_tagging_language_title_and_pdf_ua(reader):
    catalog = reader.trailer["/Root"]
    assert catalog["/MarkInfo"]["/Marked"] is True or catalog["/MarkInfo"]["/Marked"] == True  # noqa: E712
    assert catalog["/Lang"] == "nl"
    assert catalog["/ViewerPreferences"]["/DisplayDocTitle"] == True  # noqa: E712
    assert reader.metadata.title == "Uw gebruikersnaam voor Mijn DUO Zakelijk"
    xmp = catalog["/Metadata"].get_object().get_data().decode("utf-8")
    assert "<pdfuaid:part>1</pdfuaid:part>" in xmp
    assert "Uw gebruikersnaam voor Mijn DUO Zakelijk" in xmp
    page = reader.pages[0]
    assert page["/Tabs"] == "/S"


def test_an_english_letter_says_it_is_english():
    account = AccountFactory(language="en")
    catalog = PdfReader(BytesIO(letter_pdf(account=account))).trailer["/Root"]
    assert catalog["/Lang"] == "en"


def test_the_structure_tree_gives_the_reading_order_with_the_steps_as_a_list(reader):
    root = reader.trailer["/Root"]["/StructTreeRoot"]
    document = structure(root["/K"])
    assert document[0] == "Document"
    assert [child[0] for child in document[1]] == READING_ORDER
    steps = document[1][READING_ORDER.index("L")][1]
    assert len(steps) == 4
    assert all(step == ["LI", [["Lbl", []], ["LBody", []]]] for step in steps)


def test_all_text_is_marked_content_of_the_structure_tree(reader):
    page = reader.pages[0]
    root = reader.trailer["/Root"]["/StructTreeRoot"]
    tagged = marked_content_ids(root["/K"])
    assert sorted(tagged) == list(range(len(tagged)))  # each MCID once, in reading order
    assert tagged == sorted(tagged)
    # The parent tree maps the page's MCIDs back to their structure elements.
    nums = root["/ParentTree"]["/Nums"]
    assert nums[0] == page["/StructParents"] == 0
    assert len(nums[1]) == len(tagged)

    depth, seen, shown_outside = 0, [], 0
    for operands, operator in ContentStream(page.get_contents(), reader).operations:
        if operator == b"BDC":
            depth += 1
            seen.append(int(operands[1]["/MCID"]))
        elif operator == b"EMC":
            depth -= 1
        elif operator in (b"Tj", b"TJ", b"'", b'"') and depth == 0:
            shown_outside += 1
    assert shown_outside == 0, "text outside the structure tree (neither tagged nor an artifact)"
    assert seen == tagged


def test_every_font_is_embedded(reader):
    fonts = reader.pages[0]["/Resources"]["/Font"]
    assert fonts
    for font in fonts.values():
        font = font.get_object()
        descendants = font.get("/DescendantFonts")
        descriptor = (descendants[0].get_object() if descendants else font).get("/FontDescriptor")
        assert descriptor is not None, f"{font.get('/BaseFont')} is not embedded"
        descriptor = descriptor.get_object()
        assert any(key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3")), font.get(
            "/BaseFont"
        )
