"""Reading interview transcripts into speaker turns: WebVTT, SRT, plain text with ``Speaker: text``
labels, and DOCX (through ``python-docx`` when it is installed).

A transcript becomes a list of :class:`Turn` (speaker, start and end in seconds or None, text).
Consecutive cues of one speaker are merged into one turn (Zoom and Teams cut a turn into many
cues); a cue without a speaker continues the previous speaker's turn.

Speakers are found as WebVTT voice tags (``<v Ann Lee>…``), as a ``Name:`` prefix (at most five
words before the colon, so "Note: the box…" in running text is not mistaken for a speaker only
when it is the first word of a cue), or as a ``[Name]`` prefix.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

from cxlens.errors import ConfigError, SchemaError

__all__ = ["FORMATS", "Turn", "parse_file", "parse_srt", "parse_text", "parse_vtt"]

FORMATS = {".vtt": "vtt", ".srt": "srt", ".txt": "text", ".md": "text", ".docx": "docx"}
_TIME = r"(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{1,3})"
_CUE_TIME = re.compile(rf"^\s*{_TIME}\s*-->\s*{_TIME}")
_VOICE = re.compile(r"<v(?:\.[\w.-]+)?\s+([^>]+)>")
_TAG = re.compile(r"</?[^>]+>")
_LABEL = re.compile(r"^\s*(?:\[(?P<b>[^\]]{1,60})\]|(?P<n>[^\s:][^:]{0,59}?))\s*:\s+(?P<t>.*)$")
_BRACKET = re.compile(r"^\s*\[(?P<b>[^\]\d][^\]]{0,59})\]\s*(?P<t>.*)$")
_STAMP = re.compile(r"^\s*[\[(]?(?:(\d+):)?(\d{1,2}):(\d{2})(?:[.,]\d+)?[\])]?\s+")


@dataclass
class Turn:
    """One speaker turn: who spoke, when (seconds from the start, None when the format has no times), what."""

    speaker: str | None
    start: float | None
    end: float | None
    text: str


def _seconds(h: str | None, m: str, s: str, ms: str | None = None) -> float:
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + (int(ms.ljust(3, "0")) / 1000 if ms else 0.0)


def _speaker(text: str) -> tuple[str | None, str]:
    """(speaker, rest) from a ``Name: text`` or ``[Name] text`` prefix (max five words in a name)."""
    m = _LABEL.match(text)
    if m:
        name = (m.group("b") or m.group("n") or "").strip()
        if name and len(name.split()) <= 5 and not name.startswith(("http", "www")):
            return name, m.group("t").strip()
    m = _BRACKET.match(text)
    if m:
        return m.group("b").strip(), m.group("t").strip()
    return None, text.strip()


def _merge(cues: list[Turn]) -> list[Turn]:
    out: list[Turn] = []
    for c in cues:
        if not c.text:
            continue
        if out and (c.speaker is None or c.speaker == out[-1].speaker):
            prev = out[-1]
            prev.text = f"{prev.text} {c.text}".strip()
            prev.end = c.end if c.end is not None else prev.end
        else:
            out.append(Turn(c.speaker, c.start, c.end, c.text))
    return out


def _cue_blocks(text: str) -> list[list[str]]:
    blocks, cur = [], []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if line.strip():
            cur.append(line)
        elif cur:
            blocks.append(cur)
            cur = []
    if cur:
        blocks.append(cur)
    return blocks


def _timed(blocks: list[list[str]], where: str) -> list[Turn]:
    cues: list[Turn] = []
    for block in blocks:
        idx = next((i for i, line in enumerate(block) if "-->" in line), None)
        if idx is None:
            continue
        m = _CUE_TIME.match(block[idx])
        if not m:
            raise SchemaError(f"{where}: cue time {block[idx].strip()!r} is not 'HH:MM:SS.mmm --> HH:MM:SS.mmm'")
        g = m.groups()
        start, end = _seconds(*g[:4]), _seconds(*g[4:])
        raw = " ".join(block[idx + 1 :])
        voice = _VOICE.search(raw)
        body = html.unescape(_TAG.sub("", raw)).strip()
        speaker = voice.group(1).strip() if voice else None
        if speaker is None:
            speaker, body = _speaker(body)
        cues.append(Turn(speaker, start, end, body))
    return _merge(cues)


def parse_vtt(text: str, where: str = "transcript.vtt") -> list[Turn]:
    """WebVTT cues (header, NOTE, STYLE and REGION blocks skipped) → speaker turns."""
    if not text.lstrip("\ufeff").startswith("WEBVTT"):
        raise SchemaError(f"{where} does not start with 'WEBVTT'; is it a WebVTT file?")
    blocks = [b for b in _cue_blocks(text.lstrip("\ufeff"))[1:] if not b[0].startswith(("NOTE", "STYLE", "REGION"))]
    return _timed(blocks, where)


def parse_srt(text: str, where: str = "transcript.srt") -> list[Turn]:
    """SubRip blocks (index, ``00:00:01,000 --> 00:00:04,000``, text) → speaker turns."""
    turns = _timed(_cue_blocks(text.lstrip("\ufeff")), where)
    if not turns and text.strip():
        raise SchemaError(f"{where} has no 'HH:MM:SS,mmm --> HH:MM:SS,mmm' cue; is it an SRT file?")
    return turns


def parse_text(text: str, where: str = "transcript.txt") -> list[Turn]:
    """Plain text: ``Speaker: text`` lines (optionally after a ``[00:01:02]`` stamp); lines without a
    label continue the previous turn."""
    cues: list[Turn] = []
    for line in text.lstrip("\ufeff").replace("\r\n", "\n").split("\n"):
        if not line.strip():
            continue
        start = None
        m = _STAMP.match(line)
        if m:
            start = _seconds(m.group(1), m.group(2), m.group(3))
            line = line[m.end() :]
        speaker, body = _speaker(line)
        cues.append(Turn(speaker, start, None, body))
    turns = _merge(cues)
    if turns and all(t.speaker is None for t in turns):
        raise SchemaError(f"{where} has no 'Speaker: text' labels; label each turn, e.g. 'Interviewer: How was it?'")
    return turns


def parse_file(path: str | Path) -> tuple[str, list[Turn]]:
    """(format, turns) of a transcript file, by extension."""
    p = Path(path)
    fmt = FORMATS.get(p.suffix.lower())
    if fmt is None:
        raise SchemaError(f"{p.name}: extension {p.suffix!r} is not a transcript; expected one of {', '.join(FORMATS)}")
    if fmt == "docx":
        try:
            import docx  # python-docx
        except ImportError:
            raise ConfigError(
                f"{p.name} is a DOCX transcript; reading it needs python-docx: pip install python-docx, "
                "or save it as .txt with 'Speaker: text' lines"
            ) from None
        try:
            document = docx.Document(str(p))
        except Exception as e:  # python-docx raises zipfile/KeyError/ValueError… for a file that is not DOCX
            raise SchemaError(
                f"{p.name} is not a readable DOCX file ({type(e).__name__}); save it again from Word"
            ) from None
        # one paragraph per line; titles and headings (style Title/Heading …) are not turns
        text = "\n".join(par.text for par in document.paragraphs
                         if not (par.style is not None and str(par.style.name).startswith(("Heading", "Title"))))  # fmt: skip
        return fmt, parse_text(text, p.name)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise SchemaError(f"{p.name} is not UTF-8 text; save the transcript as UTF-8") from None
    parse = {"vtt": parse_vtt, "srt": parse_srt, "text": parse_text}[fmt]
    return fmt, parse(text, p.name)
