"""index.html as a reader sees it: its text, its links, and each section's table or why it has none.

Parsed with the standard library's HTMLParser from the file `wsnas report` wrote, so a check on
it is a check on the real page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path


@dataclass
class Cell:
    text: str
    attrs: dict[str, str]


@dataclass
class Section:
    """One table of the page, under its <h3> title: header rows, body rows, or the reason it is empty."""

    title: str
    head: list[list[Cell]] = field(default_factory=list)
    body: list[list[str]] = field(default_factory=list)
    empty: str = ""
    paragraphs: list[str] = field(default_factory=list)


class Page(HTMLParser):
    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.text_parts: list[str] = []
        self.links: list[tuple[str, str]] = []
        self.sections: dict[str, Section] = {}
        self.paragraphs: list[tuple[str, str]] = []
        """(class, text) of every <p>, in page order."""
        self._stack: list[tuple[str, dict[str, str]]] = []
        self._buf: list[str] = []
        self._section: Section | None = None
        self._row: list[Cell] | None = None
        self._in_head = False
        self._href: str | None = None
        self._link_text: list[str] = []
        self.feed(path.read_text())

    @property
    def text(self) -> str:
        return " ".join("".join(self.text_parts).split())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag in ("h3", "p", "th", "td", "h2", "li"):
            self._stack.append((tag, a))
            self._buf = []
        if tag == "thead":
            self._in_head = True
        elif tag == "tr":
            self._row = []
        elif tag == "a":
            self._href, self._link_text = a.get("href", ""), []
        elif tag == "br":
            self._buf.append(" / ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append((self._href, "".join(self._link_text)))
            self._href = None
        if tag == "thead":
            self._in_head = False
        if tag == "tr" and self._row is not None and self._section is not None:
            if self._in_head:
                self._section.head.append(self._row)
            else:
                self._section.body.append([c.text for c in self._row])
            self._row = None
        if not self._stack or self._stack[-1][0] != tag:
            return
        _, a = self._stack.pop()
        text = " ".join("".join(self._buf).split())
        if tag == "h3":
            self._section = self.sections[text] = Section(text)
        elif tag == "h2":
            self._section = None
        elif tag == "p":
            self.paragraphs.append((a.get("class", ""), text))
            if self._section is not None:
                self._section.paragraphs.append(text)
                if a.get("class") == "empty":
                    self._section.empty = text
        elif tag in ("th", "td") and self._row is not None:
            self._row.append(Cell(text, a))

    def handle_data(self, data: str) -> None:
        self.text_parts.append(data)
        self._buf.append(data)
        if self._href is not None:
            self._link_text.append(data)

    def section(self, start: str) -> Section:
        """The section whose title starts with START."""
        found = [s for t, s in self.sections.items() if t.startswith(start)]
        assert len(found) == 1, (start, list(self.sections))
        return found[0]
