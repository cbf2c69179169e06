"""A ticket's token as a QR code (segno: pure Python, SVG and PNG)."""

import io

import segno

# Medium error correction (15 % of the code may be lost: a scratched screen, a glare); the
# quiet zone of 4 modules the standard asks for.
ERROR_CORRECTION = "m"
BORDER = 4
SVG_SCALE = 4
PNG_SCALE = 8


def qr_image(token: str, kind: str) -> bytes:
    """`kind`: "svg" or "png"."""
    code = segno.make_qr(token, error=ERROR_CORRECTION)
    buffer = io.BytesIO()
    code.save(buffer, kind=kind, scale=SVG_SCALE if kind == "svg" else PNG_SCALE, border=BORDER)
    return buffer.getvalue()
