"""The username letter (seed 002 §1.1 step 3): an A4 PDF the beheerder prints and hands over in person.

The letter carries the username and never the activation code: the code goes by e-mail, so a
person needs both the paper and the mailbox to link an eHerkenning means to the account.
"""

import threading
import zlib
from collections.abc import Iterable
from contextlib import contextmanager, nullcontext
from io import BytesIO
from itertools import count
from pathlib import Path
from xml.sax.saxutils import escape

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.pdfdoc import (
    PDFArray,
    PDFDictionary,
    PDFName,
    PDFStream,
    PDFString,
    PDFtrue,
    PDFTrueTypeFont,
)
from reportlab.pdfbase.ttfonts import FF_NONSYMBOLIC, FF_SYMBOLIC, SUBSETN, TTFont, makeToUnicodeCMap
from reportlab.pdfgen.canvas import Canvas

from accounts.audit import audit_log
from accounts.constants import EHERKENNING_SERVICE_NAME, AuditAction
from accounts.models import Account

from .services import _check_same_organisatie

LEFT = 25 * mm
WIDTH = A4[0] - 2 * LEFT

# Names in the Netherlands are not all Latin-1 (Şahin, Łukasz, Nguyễn): the PDF base fonts cannot
# show them, so such a letter embeds DejaVu (Debian's fonts-dejavu-core, installed by scripts/setup.sh
# and the Dockerfile). The letter is a PDF/UA document (issue 17), which needs every font embedded,
# so DejaVu is used whenever it is installed; the embedded subsets are built once per process and
# reused (_ReusedTTFont), so embedding costs a letter little (import_beheerders writes thousands,
# design.md §7 P7). Without DejaVu, base fonts throughout (not PDF/UA then).
_DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
_FONTS = {
    "sans": ("DejaVuSans", "DejaVuSans.ttf", "Helvetica"),
    "bold": ("DejaVuSans-Bold", "DejaVuSans-Bold.ttf", "Helvetica-Bold"),
    "oblique": ("DejaVuSans-Oblique", "DejaVuSans-Oblique.ttf", "Helvetica-Oblique"),
    "mono": ("DejaVuSansMono-Bold", "DejaVuSansMono-Bold.ttf", "Courier-Bold"),
}


_FLATE = PDFArray([PDFName("FlateDecode")])


class _ReusedTTFont(TTFont):
    """A TrueType font whose embedded subsets are made once per process and reused by every PDF.

    ReportLab re-reads the font tables, cuts the subset, compresses it and writes its widths and
    ToUnicode map anew for every document: four fonts, most of a letter's cost. The subsets of
    letters are nearly always the same, because ReportLab keeps ASCII at fixed codes (asciiReadable):
    only a name with other characters (ë, Ş) adds codes, and that subset is then made once too.
    The PDF objects are the ones ``TTFont.addObjects`` writes, with the stream contents prepared.
    """

    _KEEP = 64  # distinct subsets kept per font (each some 20-40 kB); more are made each time

    def __init__(self, name: str, filename: str):
        super().__init__(name, filename)
        self._prepared: dict[tuple, tuple[bytes, int, bytes, bytes]] = {}
        self._lock = threading.Lock()

    def _prepare(self, number: int, subset: list[int], base_font: str) -> tuple[bytes, int, bytes, bytes]:
        key = (number, tuple(subset))
        prepared = self._prepared.get(key)
        if prepared is None:
            with self._lock:  # the face's file reader is not safe for two threads at once
                font_file = self.face.makeSubset(subset)
            widths = PDFArray([self.face.getCharWidth(code) for code in subset]).format(None)
            prepared = (
                zlib.compress(font_file),
                len(font_file),
                widths,
                zlib.compress(makeToUnicodeCMap(base_font, subset).encode("ascii")),
            )
            if len(self._prepared) < self._KEEP:
                self._prepared[key] = prepared
        return prepared

    def addObjects(self, doc) -> None:  # noqa: N802 (ReportLab's name)
        state = self._assignState(doc)
        state.frozen = 1
        face = self.face
        flags = (face.flags & ~FF_NONSYMBOLIC) | FF_SYMBOLIC  # as TTFont writes it
        for number, subset in enumerate(state.subsets):
            internal_name = self.getSubsetInternalName(number, doc)[1:]
            base_font = (SUBSETN(number) + b"+" + face.name + face.subfontNameX).decode("pdfdoc")
            font_file, length, widths, to_unicode = self._prepare(number, subset, base_font)
            # References in the order TTFont makes them, so that the objects are numbered alike.
            to_unicode_reference = doc.Reference(
                PDFStream(PDFDictionary({"Filter": _FLATE}), to_unicode, filters=[]),
                f"toUnicodeCMap:{base_font}",
            )
            font_file_reference = doc.Reference(
                PDFStream(PDFDictionary({"Length1": length, "Filter": _FLATE}), font_file, filters=[]),
                f"fontFile:{face.filename}({base_font})",
            )
            descriptor = PDFDictionary(
                {
                    "Type": "/FontDescriptor",
                    "Ascent": face.ascent,
                    "CapHeight": face.capHeight,
                    "Descent": face.descent,
                    "Flags": flags,
                    "FontBBox": PDFArray(face.bbox),
                    "FontName": PDFName(base_font),
                    "ItalicAngle": face.italicAngle,
                    "StemV": face.stemV,
                    "FontFile2": font_file_reference,
                    "MissingWidth": face.defaultWidth,
                }
            )
            font = PDFTrueTypeFont()
            font.Name = internal_name
            font.BaseFont = base_font
            font.FirstChar = 0
            font.LastChar = len(subset) - 1
            font.Widths = widths  # bytes are written as they are
            font.ToUnicode = to_unicode_reference
            font.FontDescriptor = doc.Reference(descriptor, f"fontDescriptor:{base_font}")
            doc.Reference(font, internal_name)
            doc.idToObject["BasicFonts"].dict[internal_name] = font
        del self.state[doc]


_font_lock = threading.Lock()
_font_names: dict[str, str] = {}  # kind -> the registered font's name (or the fallback)


def _font(kind: str, *, embedded: bool) -> str:
    name, filename, fallback = _FONTS[kind]
    if not embedded:
        return fallback
    resolved = _font_names.get(kind)
    if resolved is None:
        with _font_lock:  # parse each font file once per process
            path = _DEJAVU / filename
            if name in pdfmetrics.getRegisteredFontNames():
                resolved = name
            elif path.exists():
                pdfmetrics.registerFont(_ReusedTTFont(name, str(path)))
                resolved = name
            else:
                resolved = fallback
            _font_names[kind] = resolved
    return resolved


def _needs_embedded_font(texts) -> bool:
    """Whether some text falls outside what the PDF base fonts can show (WinAnsiEncoding)."""
    try:
        for text in texts:
            (text or "").encode("cp1252")
    except UnicodeEncodeError:
        return True
    return False


BODY_FONT = ("sans", 10.5)
LINE = 14.5


def letter_filename(*, account: Account) -> str:
    return f"gebruikersnaam-{account.username}.pdf"


def letter_pdf(*, account: Account) -> bytes:
    """Render the letter for ``account`` in the account's language (Dutch unless they chose English)."""
    with translation.override(account.language or settings.LANGUAGE_CODE):
        return _render([account], title=_("Your username for Mijn DUO Zakelijk"), sections=False)


def letters_pdf(*, accounts: list[Account]) -> bytes:
    """The letters of ``accounts`` as one tagged PDF (PDF/UA), a page per letter in the given order.

    One document, not letters joined afterwards: one structure tree with each letter a section
    (Sect) in page order, each in its person's language; the document's language and title are the
    current one's (the beheerder's). The fonts are embedded once for all letters.
    """
    return _render(accounts, title=_("Usernames for Mijn DUO Zakelijk"), sections=True)


def _texts(account: Account) -> list[str]:
    organisatie = account.organisatie
    texts = [account.name, account.username]
    if organisatie is not None:
        texts += [
            organisatie.naam,
            organisatie.straat,
            organisatie.huisnummer,
            organisatie.postcode,
            organisatie.woonplaats,
        ]
    return texts


def _render(accounts: Iterable[Account], *, title: str, sections: bool) -> bytes:
    accounts = list(accounts)
    language = translation.get_language() or settings.LANGUAGE_CODE
    # PDF/UA needs every font embedded: DejaVu whenever it is installed (the base fonts otherwise).
    embedded = _DEJAVU.exists() or _needs_embedded_font(text for a in accounts for text in _texts(a))

    def face(kind: str) -> str:
        return _font(kind, embedded=embedded)

    buffer = BytesIO()
    # The initial font too, or an unused, unembedded Helvetica stays in the page's resources.
    canvas = Canvas(buffer, pagesize=A4, invariant=True, pageCompression=1, initialFontName=face("sans"))
    canvas.setTitle(title)
    canvas.setAuthor("Mijn DUO Zakelijk")
    tags = _Tags(canvas)
    for number, account in enumerate(accounts):
        account_language = account.language or settings.LANGUAGE_CODE
        with translation.override(account_language):
            if sections:
                # A bookmark per person: the reader can go to a letter by name (WCAG PDF2).
                canvas.bookmarkPage(f"letter{number}")
                canvas.addOutlineEntry(account.name, f"letter{number}", level=0)
                section = tags.element(
                    "Sect", language=account_language if account_language != language else None
                )
            else:
                section = nullcontext()
            with section:
                _draw(canvas, tags=tags, account=account, face=face)
        canvas.showPage()
        tags.page_end()
    _tag(canvas, tags=tags, title=title, language=language)
    canvas.save()
    return buffer.getvalue()


def _draw(canvas: Canvas, *, tags: "_Tags", account: Account, face) -> None:
    """Draw one letter on the canvas's current page, every piece of text tagged in reading order."""
    organisatie = account.organisatie
    title = _("Your username for Mijn DUO Zakelijk")
    y = A4[1] - 25 * mm

    with tags.content("P"):
        canvas.setFont(face("bold"), 16)
        canvas.drawString(LEFT, y, "Mijn DUO Zakelijk")
    with tags.content("P"):
        canvas.setFont(face("sans"), 9)
        canvas.drawRightString(A4[0] - LEFT, y, date_format(timezone.localdate(), "j F Y"))
    y -= 20 * mm

    # Address block, for a window envelope or internal post.
    address = [organisatie.naam if organisatie else ""]
    address.append(_("For the attention of %(name)s") % {"name": account.name})
    if organisatie is not None:
        street = f"{organisatie.straat} {organisatie.huisnummer}".strip()
        town = f"{organisatie.postcode}  {organisatie.woonplaats}".strip()
        address += [line for line in (street, town) if line]
    with tags.content("P"):
        canvas.setFont(face(BODY_FONT[0]), BODY_FONT[1])
        for line in address:
            canvas.drawString(LEFT, y, line)
            y -= LINE
    y -= 12 * mm

    with tags.content("H1"):
        canvas.setFont(face("bold"), 13)
        canvas.drawString(LEFT, y, title)
    y -= 2 * LINE

    def paragraph(text: str, font=BODY_FONT, indent: float = 0, role: str | None = "P") -> None:
        nonlocal y
        name = face(font[0])
        with tags.content(role) if role else nullcontext():
            canvas.setFont(name, font[1])
            for line in simpleSplit(text, name, font[1], WIDTH - indent):
                canvas.drawString(LEFT + indent, y, line)
                y -= LINE
        y -= LINE / 2

    paragraph(_("Dear %(name)s,") % {"name": account.name})
    paragraph(
        _(
            "Your beheerder has registered you as a user of Mijn DUO Zakelijk for %(organisatie)s. "
            "This letter contains your username. Your beheerder hands it to you in person."
        )
        % {"organisatie": organisatie.naam if organisatie else ""}
    )
    paragraph(_("Your username:"))
    with tags.content("P"):
        canvas.setFont(face("mono"), 22)
        canvas.drawString(LEFT + 10 * mm, y - 4, account.username)
    y -= 12 * mm
    paragraph(
        _("The username contains only capital letters and digits; there is no letter O and no digit 0 or 1."),
        font=("oblique", 9.5),
    )

    with tags.content("H2"):
        canvas.setFont(face("bold"), 11.5)
        canvas.drawString(LEFT, y, _("What to do next"))
    y -= 1.5 * LINE
    steps = [
        _(
            "Make sure you have a personal eHerkenning means of level 3 (EH3) or higher "
            "for the service '%(service)s'."
        )
        % {"service": EHERKENNING_SERVICE_NAME},
        _(
            "Ask your beheerder for your activation code. You receive it by e-mail. "
            "The activation code is valid for 24 hours."
        ),
        _(
            "Go to %(site)s, log in with eHerkenning and link your eHerkenning means to your "
            "Mijn DUO account with this username and the activation code (the koppelproces)."
        )
        % {"site": settings.SITE_URL},
        _("After linking you log in to Mijn DUO Zakelijk with eHerkenning only."),
    ]
    with tags.element("L"):
        for number, step in enumerate(steps, start=1):
            with tags.element("LI"):
                with tags.content("Lbl"):
                    canvas.setFont(face(BODY_FONT[0]), BODY_FONT[1])
                    canvas.drawString(LEFT, y, f"{number}.")
                with tags.content("LBody"):
                    paragraph(step, indent=7 * mm, role=None)

    y -= LINE
    paragraph(
        _(
            "Keep this letter in a safe place and do not share your username with others. "
            "Questions? Ask the beheerder of your organisation."
        )
    )

    with tags.content("P"):
        canvas.setFont(face("sans"), 7.5)
        canvas.drawString(
            LEFT,
            15 * mm,
            _("Mijn DUO Zakelijk is a fictional open-source demonstration. It is not a service of DUO."),
        )


class _Tags:
    """The letters' logical structure while they are drawn (PDF/UA, WCAG for PDF): each piece of text
    is marked content (BDC/EMC with an MCID, numbered per page) inside a structure element, in reading
    order, so that a screen reader reads a letter as headings, paragraphs and a numbered list rather
    than guessing from positions. ``_tag`` writes the structure tree from it."""

    def __init__(self, canvas: Canvas):
        self.canvas = canvas
        self.page = 0
        self.root: dict = {"S": "Document", "K": [], "page": 0, "language": None}
        self._open = [self.root]
        self.count = 0  # the next MCID on this page
        self.counts: list[int] = []  # the MCIDs of each finished page

    @contextmanager
    def element(self, role: str, *, language: str | None = None):
        """A structure element (e.g. a list) around the elements drawn inside the block."""
        element = {"S": role, "K": [], "page": self.page, "language": language}
        self._open[-1]["K"].append(element)
        self._open.append(element)
        try:
            yield element
        finally:
            self._open.pop()

    @contextmanager
    def content(self, role: str):
        """A structure element whose content is what the block draws (one marked-content sequence)."""
        with self.element(role) as element:
            element["K"].append(self.count)
            self.canvas.addLiteral(f"/{role} <</MCID {self.count}>> BDC")
            self.count += 1
            try:
                yield
            finally:
                self.canvas.addLiteral("EMC")

    def page_end(self) -> None:
        """Call after ``showPage()``: the next page's marked content is numbered from 0 again."""
        self.counts.append(self.count)
        self.count = 0
        self.page += 1


_XMP = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"
 xmlns:pdfuaid="http://www.aiim.org/pdfua/ns/id/">
<dc:title><rdf:Alt><rdf:li xml:lang="x-default">{title}</rdf:li></rdf:Alt></dc:title>
<dc:language><rdf:Bag><rdf:li>{language}</rdf:li></rdf:Bag></dc:language>
<pdfuaid:part>1</pdfuaid:part>
</rdf:Description></rdf:RDF></x:xmpmeta>
<?xpacket end="w"?>"""


def _tag(canvas: Canvas, *, tags: _Tags, title: str, language: str) -> None:
    """Make the document a tagged PDF (PDF/UA-1) as ReportLab writes it: the structure tree with a
    parent tree for each page's marked content, /MarkInfo, the document language, the title shown
    instead of the file name, XMP metadata naming PDF/UA part 1, and tab order by structure. Call
    after the last ``showPage()`` and before ``save()``. Written in the same pass (not by re-reading
    the PDF), so it costs a letter next to nothing: import_beheerders writes thousands (design.md §7 P7)."""
    doc = canvas._doc
    pages = doc.Pages.pages
    page_references = [doc.Reference(page) for page in pages]
    for number, page in enumerate(pages):
        # The page dictionary names its entry in the parent tree and asks for tab order by structure;
        # ReportLab writes the page keys listed in __NoDefault__ (not name-mangled: dunder names).
        page.__NoDefault__ = [*type(page).__NoDefault__, "StructParents", "Tabs"]
        page.StructParents = number
        page.Tabs = PDFName("S")
    by_mcid: dict[tuple[int, int], object] = {}
    counter = count(1)

    def add(node: dict, parent) -> object:
        element = PDFDictionary(
            {
                "Type": PDFName("StructElem"),
                "S": PDFName(node["S"]),
                "P": parent,
                "Pg": page_references[node["page"]],
            }
        )
        if node["language"]:
            element["Lang"] = PDFString(node["language"])
        reference = doc.Reference(element, f"StructElem{next(counter)}")
        kids = []
        for kid in node["K"]:
            if isinstance(kid, int):
                by_mcid[node["page"], kid] = reference
                kids.append(kid)
            else:
                kids.append(add(kid, reference))
        element["K"] = PDFArray(kids)
        return reference

    tree = PDFDictionary({"Type": PDFName("StructTreeRoot")})
    tree_reference = doc.Reference(tree, "StructTreeRoot")
    tree["K"] = add(tags.root, tree_reference)
    nums = []
    for number, mcids in enumerate(tags.counts):
        nums += [number, PDFArray([by_mcid[number, mcid] for mcid in range(mcids)])]
    tree["ParentTree"] = PDFDictionary({"Nums": PDFArray(nums)})
    tree["ParentTreeNextKey"] = len(pages)
    catalog = doc.Catalog
    catalog.StructTreeRoot = tree_reference
    catalog.MarkInfo = PDFDictionary({"Marked": PDFtrue})
    catalog.Lang = PDFString(language)
    canvas.setViewerPreference("DisplayDocTitle", "true")
    xmp = _XMP.format(title=escape(title), language=escape(language)).encode("utf-8")
    catalog.Metadata = PDFStream(
        PDFDictionary({"Type": PDFName("Metadata"), "Subtype": PDFName("XML")}), xmp, filters=[]
    )


def letter_download(*, beheerder: Account, account: Account, request: HttpRequest | None = None) -> bytes:
    """ "Brief downloaden": render the letter for a user of the beheerder's organisation, audited."""
    _check_same_organisatie(beheerder=beheerder, account=account)
    pdf = letter_pdf(account=account)
    audit_log(action=AuditAction.LETTER_DOWNLOAD, actor=beheerder, obj=account, request=request)
    return pdf


def letters_download(
    *, beheerder: Account, accounts: list[Account], request: HttpRequest | None = None
) -> bytes:
    """The letters of a selection as one PDF, one page per person in the given (list) order.

    Forty new staff are forty letters to print, not forty files to match to people. Each letter
    is audited as its own download, as if it had been fetched one by one.
    """
    for account in accounts:
        _check_same_organisatie(beheerder=beheerder, account=account)
    pdf = letters_pdf(accounts=accounts)
    for account in accounts:
        audit_log(action=AuditAction.LETTER_DOWNLOAD, actor=beheerder, obj=account, request=request)
    return pdf
