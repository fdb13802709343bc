"""The one CJK font registration for every PDF (contracts, risk reports, monthly reports).

The font is the TrueType WenQuanYi Zen Hei from ``settings.LOANOPS_CJK_FONT`` (subfontIndex=0), embedded as a
subset — never a non-embedded CID font such as STSong-Light, which many viewers cannot show.
"""

from __future__ import annotations

import threading
from typing import Final

from django.conf import settings
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONT_NAME: Final = "WQYZenHei"

_font_lock = threading.Lock()


def register_cjk_font() -> str:
    """Register the embedded CJK TrueType font once per process; returns its reportlab name."""
    with _font_lock:
        if FONT_NAME not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(FONT_NAME, settings.LOANOPS_CJK_FONT, subfontIndex=0))
            # One face only: map bold/italic to it so <b> in a paragraph never falls back to Helvetica.
            pdfmetrics.registerFontFamily(
                FONT_NAME, normal=FONT_NAME, bold=FONT_NAME, italic=FONT_NAME, boldItalic=FONT_NAME
            )
    return FONT_NAME


def escape(text: str) -> str:
    """Escape user text for a reportlab Paragraph (which parses a small XML-like markup)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
