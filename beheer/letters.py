"""The username letter (seed 002 §1.1 step 3): an A4 PDF the beheerder prints and hands over in person.

The letter carries the username and never the activation code: the code goes by e-mail, so a
person needs both the paper and the mailbox to link an eHerkenning means to the account.
"""

from io import BytesIO
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from accounts.audit import audit_log
from accounts.constants import AuditAction
from accounts.models import Account

from .services import _check_same_organisatie

LEFT = 25 * mm
WIDTH = A4[0] - 2 * LEFT

# Names in the Netherlands are not all Latin-1 (Şahin, Łukasz, Nguyễn): the PDF base fonts cannot
# show them, so such a letter embeds DejaVu (Debian's fonts-dejavu-core, installed by scripts/setup.sh
# and the Dockerfile). A letter whose text the base fonts can show (WinAnsi, i.e. cp1252) uses them:
# embedding four font subsets made every letter cost ~10 ms instead of ~2 ms, which doubled
# import_beheerders at 5,000 rows (design.md §7 P7). Without DejaVu installed, base fonts throughout.
_DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
_FONTS = {
    "sans": ("DejaVuSans", "DejaVuSans.ttf", "Helvetica"),
    "bold": ("DejaVuSans-Bold", "DejaVuSans-Bold.ttf", "Helvetica-Bold"),
    "oblique": ("DejaVuSans-Oblique", "DejaVuSans-Oblique.ttf", "Helvetica-Oblique"),
    "mono": ("DejaVuSansMono-Bold", "DejaVuSansMono-Bold.ttf", "Courier-Bold"),
}


def _font(kind: str, *, embedded: bool) -> str:
    name, filename, fallback = _FONTS[kind]
    if not embedded:
        return fallback
    if name in pdfmetrics.getRegisteredFontNames():
        return name
    path = _DEJAVU / filename
    if not path.exists():
        return fallback
    pdfmetrics.registerFont(TTFont(name, str(path)))
    return name


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
    """Render the letter for ``account`` in the account's language (Dutch unless he chose English)."""
    with translation.override(account.language or settings.LANGUAGE_CODE):
        return _render(account)


def _render(account: Account) -> bytes:
    buffer = BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=True, pageCompression=1)
    canvas.setTitle(_("Your username for Mijn DUO Zakelijk"))
    canvas.setAuthor("Mijn DUO Zakelijk")
    organisatie = account.organisatie
    embedded = _needs_embedded_font(
        [account.name, account.username]
        + (
            [
                organisatie.naam,
                organisatie.straat,
                organisatie.huisnummer,
                organisatie.postcode,
                organisatie.woonplaats,
            ]
            if organisatie
            else []
        )
    )

    def face(kind: str) -> str:
        return _font(kind, embedded=embedded)

    y = A4[1] - 25 * mm

    canvas.setFont(face("bold"), 16)
    canvas.drawString(LEFT, y, "Mijn DUO Zakelijk")
    canvas.setFont(face("sans"), 9)
    canvas.drawRightString(A4[0] - LEFT, y, date_format(timezone.localdate(), "j F Y"))
    y -= 20 * mm

    # Address block, for a window envelope or internal post.
    canvas.setFont(face(BODY_FONT[0]), BODY_FONT[1])
    address = [organisatie.naam if organisatie else ""]
    address.append(_("For the attention of %(name)s") % {"name": account.name})
    if organisatie is not None:
        street = f"{organisatie.straat} {organisatie.huisnummer}".strip()
        town = f"{organisatie.postcode}  {organisatie.woonplaats}".strip()
        address += [line for line in (street, town) if line]
    for line in address:
        canvas.drawString(LEFT, y, line)
        y -= LINE
    y -= 12 * mm

    canvas.setFont(face("bold"), 13)
    canvas.drawString(LEFT, y, _("Your username for Mijn DUO Zakelijk"))
    y -= 2 * LINE

    def paragraph(text: str, font=BODY_FONT, indent: float = 0) -> None:
        nonlocal y
        name = face(font[0])
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
    canvas.setFont(face("mono"), 22)
    canvas.drawString(LEFT + 10 * mm, y - 4, account.username)
    y -= 12 * mm
    paragraph(
        _("The username contains only capital letters and digits; there is no letter O and no digit 0 or 1."),
        font=("oblique", 9.5),
    )

    canvas.setFont(face("bold"), 11.5)
    canvas.drawString(LEFT, y, _("What to do next"))
    y -= 1.5 * LINE
    steps = [
        _(
            "Make sure you have a personal eHerkenning means of level 3 (EH3) or higher "
            "for the service 'Mijn DUO'."
        ),
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
    for number, step in enumerate(steps, start=1):
        canvas.setFont(face(BODY_FONT[0]), BODY_FONT[1])
        canvas.drawString(LEFT, y, f"{number}.")
        paragraph(step, indent=7 * mm)

    y -= LINE
    paragraph(
        _(
            "Keep this letter in a safe place and do not share your username with others. "
            "Questions? Ask the beheerder of your organisation."
        )
    )

    canvas.setFont(face("sans"), 7.5)
    canvas.drawString(
        LEFT,
        15 * mm,
        _("Mijn DUO Zakelijk is a fictional open-source demonstration. It is not a service of DUO."),
    )
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


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
    from pypdf import PdfWriter

    writer = PdfWriter()
    for account in accounts:
        _check_same_organisatie(beheerder=beheerder, account=account)
        writer.append(BytesIO(letter_pdf(account=account)))
    output = BytesIO()
    writer.write(output)
    for account in accounts:
        audit_log(action=AuditAction.LETTER_DOWNLOAD, actor=beheerder, obj=account, request=request)
    return output.getvalue()
