"""The username letter is a tagged, accessible PDF (issue 17 item 5; PDF/UA-1, WCAG for PDF): a
structure tree in reading order (headings, paragraphs, the steps as a list), every piece of text
marked content that belongs to it, the document language, the title shown as the window title, XMP
metadata declaring PDF/UA, embedded fonts. So is the PDF with the letters of several users (a
selection in the list, a bulk registration): one document, each letter a section. veraPDF is not
installable here (no PyPI/Debian package), so the structure is inspected with pypdf."""

from io import BytesIO

import pytest
from pypdf import PdfReader
from pypdf.generic import ContentStream

from beheer.letters import _DEJAVU, _ReusedTTFont, letter_pdf, letters_pdf
from tests.factories import AccountFactory, OrganisatieFactory

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
    assert_fonts_embedded(reader.pages[0])


def assert_fonts_embedded(page):
    fonts = page["/Resources"]["/Font"]
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


# --- the letters of several users in one PDF ------------------------------------------------------


def page_marked_content(reader, page) -> list[int]:
    """The MCIDs of a page's content stream in order; fails on text outside marked content."""
    depth, seen = 0, []
    for operands, operator in ContentStream(page.get_contents(), reader).operations:
        if operator == b"BDC":
            depth += 1
            seen.append(int(operands[1]["/MCID"]))
        elif operator == b"EMC":
            depth -= 1
        elif operator in (b"Tj", b"TJ", b"'", b'"'):
            assert depth > 0, "text outside the structure tree"
    return seen


@pytest.fixture
def people():
    organisatie = OrganisatieFactory(naam="Het Noorderpoort")
    return [
        AccountFactory(organisatie=organisatie, name="Anna de Vries", language="nl"),
        AccountFactory(organisatie=organisatie, name="Brian Smith", language="en"),
        AccountFactory(organisatie=organisatie, name="Şahin Nguyễn", language="nl"),
    ]


@pytest.fixture
def combined(people):
    return PdfReader(BytesIO(letters_pdf(accounts=people)))


def test_the_letters_of_several_users_are_one_tagged_document_in_dutch(combined, people):
    catalog = combined.trailer["/Root"]
    assert catalog["/MarkInfo"]["/Marked"] == True  # noqa: E712
    assert catalog["/Lang"] == "nl"
    assert catalog["/ViewerPreferences"]["/DisplayDocTitle"] == True  # noqa: E712
    assert combined.metadata.title == "Gebruikersnamen voor Mijn DUO Zakelijk"
    xmp = catalog["/Metadata"].get_object().get_data().decode("utf-8")
    assert "<pdfuaid:part>1</pdfuaid:part>" in xmp and "Gebruikersnamen voor Mijn DUO Zakelijk" in xmp
    assert len(combined.pages) == len(people)
    for page, person in zip(combined.pages, people, strict=True):
        assert person.username in page.extract_text()  # page order is list order
        assert page["/Tabs"] == "/S"
        assert_fonts_embedded(page)
    # A bookmark per person, in order, to find a letter by name.
    assert [item.title for item in combined.outline] == [person.name for person in people]


def test_each_letter_is_a_section_of_the_one_structure_tree_in_page_order(combined, people):
    root = combined.trailer["/Root"]["/StructTreeRoot"]
    document = structure(root["/K"])
    assert document[0] == "Document"
    assert [section[0] for section in document[1]] == ["Sect"] * len(people)
    for section in document[1]:
        assert [child[0] for child in section[1]] == READING_ORDER
    sections = [kid.get_object() for kid in root["/K"].get_object()["/K"]]
    # Each section lies on its own page, in order; the English letter says it is English.
    assert [combined.get_page_number(section["/Pg"].get_object()) for section in sections] == [0, 1, 2]
    assert [section.get("/Lang") for section in sections] == [None, "en", None]
    assert "Your username for Mijn DUO Zakelijk" in combined.pages[1].extract_text()


def test_each_page_s_marked_content_belongs_to_its_own_letter_through_the_parent_tree(combined):
    root = combined.trailer["/Root"]["/StructTreeRoot"]
    nums = root["/ParentTree"]["/Nums"]
    assert list(nums[0::2]) == [0, 1, 2]
    assert root["/ParentTreeNextKey"] == 3
    sections = [kid.get_object() for kid in root["/K"].get_object()["/K"]]
    for number, (page, section) in enumerate(zip(combined.pages, sections, strict=True)):
        assert page["/StructParents"] == number
        tagged = marked_content_ids(section)
        assert tagged == list(range(len(tagged)))  # each MCID once, in reading order, per page
        assert page_marked_content(combined, page) == tagged
        parents = nums[2 * number + 1]
        assert len(parents) == len(tagged)
        for parent in parents:
            element = parent.get_object()
            assert element["/Pg"].get_object() == page.get_object()
            while "/S" in element and element["/S"] != "/Sect":
                element = element["/P"].get_object()
            assert element == section


def test_the_bulk_letters_download_is_the_tagged_document(beheer_client, beheerder, people):
    for person in people:
        person.organisatie = beheerder.organisatie
        person.save()
    response = beheer_client.get("/beheer/brieven/", {"id": [person.pk for person in people]})
    assert response.status_code == 200
    reader = PdfReader(BytesIO(response.content))
    assert len(reader.pages) == len(people)
    assert "/StructTreeRoot" in reader.trailer["/Root"]
    assert reader.trailer["/Root"]["/StructTreeRoot"]["/ParentTree"]["/Nums"][0::2] == [0, 1, 2]


# --- the embedded fonts are made once and reused ----------------------------------------------------


def test_reused_font_subsets_write_the_same_pdf_as_reportlab_s_own_font(monkeypatch):
    """The prepared subsets (font file, widths, ToUnicode) are byte for byte what ReportLab makes
    for each document, also when taken from the cache for a second document or other characters."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen.canvas import Canvas

    path = str(_DEJAVU / "DejaVuSans.ttf")
    plain, reused = TTFont("F3Plain", path), _ReusedTTFont("F3Reused", path)

    def pdf(font, text: str) -> bytes:
        # ReportLab registers one font object per face: a registry of its own for each font.
        monkeypatch.setattr(pdfmetrics, "_fonts", {})
        monkeypatch.setattr(pdfmetrics, "_dynFaceNames", {})
        pdfmetrics.registerFont(font)
        assert pdfmetrics.getFont(font.fontName) is font
        buffer = BytesIO()
        canvas = Canvas(buffer, invariant=True, pageCompression=1, initialFontName=font.fontName)
        canvas.setFont(font.fontName, 12)
        canvas.drawString(72, 720, text)
        canvas.showPage()
        canvas.save()
        return buffer.getvalue()

    for text in ("Anna de Vries", "Şahin Nguyễn", "Anna de Vries", "Łukasz Żółw", "Şahin Nguyễn"):
        made = pdf(reused, text)
        assert made == pdf(plain, text).replace(b"F3Plain", b"F3Reused")
        assert PdfReader(BytesIO(made)).pages[0].extract_text().strip() == text
    assert len(reused._prepared) == 3  # one subset per set of characters, reused
