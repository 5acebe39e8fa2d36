"""How many SMS segments a text costs, the way carriers split it.

A text that uses only the GSM 03.38 alphabet goes as GSM-7: 160 characters in one segment, or
153 a segment once it needs several (each carries a header). A character of the alphabet's
extension table (€, [, ], {, }, ^, ~, |, backslash, form feed) takes two of those places, as an
escape and the character. Any other character (an emoji, a curly quote, an accented letter
outside the alphabet) makes the whole text UCS-2: 70 UTF-16 units in one segment, 67 a segment
after that, and a character outside the Basic Multilingual Plane (most emoji) takes two units.
Neither an escaped pair nor a surrogate pair is split across segments, so a segment may hold one
place fewer than its size.
"""

from dataclasses import dataclass

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXTENDED = frozenset("\f^{}\\[~]|€")

GSM7, UCS2 = "GSM-7", "UCS-2"
_SIZES = {GSM7: (160, 153), UCS2: (70, 67)}
WARN_AFTER_SEGMENTS = 2


@dataclass(frozen=True)
class SegmentCount:
    characters: int  # as a person counts them (code points)
    encoding: str  # GSM7 or UCS2
    units: int  # places used: septets for GSM-7, UTF-16 units for UCS-2
    segments: int
    non_gsm: str  # the characters that forced UCS-2, each once, in order of appearance

    @property
    def warning(self) -> str:
        if self.segments <= WARN_AFTER_SEGMENTS:
            return ""
        why = f" (UCS-2 because of {self.non_gsm!r})" if self.non_gsm else ""
        return (f"This text is {self.segments} segments{why}: each is billed as a separate "
                f"message. Keep it to {WARN_AFTER_SEGMENTS}.")


def _width(char: str, encoding: str) -> int:
    if encoding == GSM7:
        return 2 if char in GSM7_EXTENDED else 1
    return 2 if ord(char) > 0xFFFF else 1


def segment_count(text: str) -> SegmentCount:
    non_gsm = "".join(dict.fromkeys(c for c in text if c not in GSM7_BASIC and c not in GSM7_EXTENDED))
    encoding = UCS2 if non_gsm else GSM7
    widths = [_width(c, encoding) for c in text]
    units = sum(widths)
    single, multi = _SIZES[encoding]
    if units <= single:
        segments = 1 if text else 0
    else:
        segments, used = 1, 0
        for width in widths:
            if used + width > multi:  # a pair never straddles two segments
                segments, used = segments + 1, 0
            used += width
    return SegmentCount(characters=len(text), encoding=encoding, units=units, segments=segments,
                        non_gsm=non_gsm)
