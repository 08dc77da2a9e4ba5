"""Web pages as text: what a browser shows of an HTML page, one block (paragraph, heading, list item) a line.

Used by ingest for `.html` files and for pages saved as `.txt`; the standard library's tolerant parser reads
any markup, however broken, without raising.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

# The start of a web page: a doctype, <html>, <head> or <body>, after any comments.
_PAGE_START = re.compile(r"\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b", re.I | re.S)
_BLOCKS = {"address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption", "footer",
           "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section",
           "table", "td", "th", "tr", "ul"}
_HIDDEN = {"script", "style", "noscript", "template", "svg", "head"}


def looks_like_html(text: str) -> bool:
    """Whether a text file is a web page (it opens with a doctype, <html>, <head> or <body>)."""
    return _PAGE_START.match(text) is not None


def visible_text(markup: str) -> tuple[str, str | None]:
    """(text, title): the page's visible text, a line per block and runs of spaces as one, and its <title>."""
    parser = _VisibleText()
    parser.feed(markup)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).split("\n"))
    return "\n".join(line for line in lines if line), " ".join(parser.title.split()) or None


class _VisibleText(HTMLParser):
    """Collects the text a browser shows, a line break at each block element, and the <title>."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title = ""
        self._hidden = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag == "title":
            self._in_title = True
        elif tag == "body":
            self._hidden = 0  # a <head> may be left unclosed
        elif tag in _HIDDEN:
            self._hidden += 1
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in _HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._hidden:
            self.parts.append(re.sub(r"\s+", " ", data))  # a line break in markup is a space on screen
