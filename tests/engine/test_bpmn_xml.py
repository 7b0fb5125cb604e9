"""Hardened XML reading: no DOCTYPE, no entities, no network, a size cap, and lines for every id."""

from __future__ import annotations

import time

import pytest

from engine.bpmn.xml import is_bpmn, is_dmn, local_name, read_document
from tests.support.bpmn_builder import ProcessBuilder

LIMIT = 2 * 1024 * 1024


def simple() -> bytes:
    b = ProcessBuilder("p", "テスト")
    b.lane("窓口", "start", "a", "end")
    b.start("start")
    b.user("a", "受付")
    b.end("end")
    b.flow("start", "a")
    b.flow("a", "end")
    return b.xml().encode("utf-8")


def read(data: bytes, limit: int = LIMIT):
    return read_document("t.bpmn", data, limit)


def test_a_plain_document_reads_with_lines_per_id():
    doc, problems = read(simple())
    assert problems == [] and doc is not None
    assert is_bpmn(doc) and not is_dmn(doc)
    assert doc.line_of("p") == 3 and doc.line_of("a") == 4 and doc.line_of("nope") is None
    assert doc.line_of(None) is None
    assert local_name(doc.root) == "definitions"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&lol9;</bpmn:definitions>"""
XXE_FILE = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&xxe;</bpmn:definitions>"""
XXE_NETWORK = b"""<?xml version="1.0"?>
<!DOCTYPE d SYSTEM "http://127.0.0.1:9/evil.dtd">
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"/>"""
PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x"> %p;]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"/>"""


@pytest.mark.parametrize("data", [BILLION_LAUGHS, XXE_FILE, XXE_NETWORK, PARAMETER_ENTITY,
                                  b"\xef\xbb\xbf" + XXE_FILE, XXE_FILE.replace(b"DOCTYPE", b"doctype")])
def test_document_type_declarations_are_refused(data):
    started = time.perf_counter()
    doc, problems = read(data)
    assert doc is None and problems[0].code == "doctype"
    assert problems[0].line == 2 and "DOCTYPE" in problems[0].reason
    assert time.perf_counter() - started < 0.5


def test_a_doctype_after_a_long_comment_is_refused_too():
    data = b'<?xml version="1.0"?>\n<!--' + b"x" * 70_000 + b"-->\n" + XXE_FILE.split(b"\n", 1)[1]
    doc, problems = read(data)
    assert doc is None and problems[0].code == "doctype"


def test_utf16_doctype_cannot_hide_from_the_byte_check():
    doc, problems = read(XXE_FILE.decode().replace('version="1.0"', 'version="1.0" encoding="UTF-16"')
                         .encode("utf-16"))
    assert doc is None and problems[0].code in ("doctype", "not_xml")


def test_files_over_the_size_cap_are_refused_before_parsing():
    data = simple().replace(b"</bpmn:definitions>", b"<!--" + b"x" * 3000 + b"--></bpmn:definitions>")
    doc, problems = read(data, limit=2000)
    assert doc is None and problems[0].code == "too_large" and "2,000" in problems[0].reason


@pytest.mark.parametrize(("data", "line", "words"), [
    (b"", None, "empty"),
    (b"   \n ", None, "empty"),
    (b"hello world", 1, "not an XML document"),
    (b"%PDF-1.4 binary", 1, "not an XML document"),
    (b'<?xml version="1.0"?>\n<a>\n<b>\n</a>', 4, "malformed XML"),
    (b'<?xml version="1.0"?>\n<a x="1" x="2"/>', 2, "malformed XML"),
    (b'<?xml version="1.0" encoding="UTF-8"?>\n<a>\xff\xfe</a>', 2, "malformed XML"),
    (b"<a>" * 300 + b"</a>" * 300, 1, "malformed XML"),   # deeper than libxml2 allows without huge_tree
])
def test_unreadable_files_are_named_with_a_line(data, line, words):
    doc, problems = read(data)
    assert doc is None and problems[0].code == "not_xml" and words in problems[0].reason
    assert problems[0].line == line and problems[0].file == "t.bpmn"


def test_a_byte_order_mark_is_accepted():
    doc, problems = read(b"\xef\xbb\xbf" + simple())
    assert problems == [] and is_bpmn(doc)


def test_other_declared_encodings_are_read():
    text = simple().decode("utf-8").replace('encoding="UTF-8"', 'encoding="Shift_JIS"')
    doc, problems = read(text.encode("shift_jis"))
    assert problems == [] and doc.root.find(".//{*}userTask").get("name") == "受付"


def test_processing_instructions_and_comments_are_harmless():
    data = simple().replace(b"<bpmn:process", b"<?php echo 1; ?><!-- note --><bpmn:process", 1)
    doc, problems = read(data)
    assert problems == [] and doc.line_of("a") is not None


def test_dmn_is_recognised():
    doc, _ = read(b'<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="d"/>')
    assert is_dmn(doc) and not is_bpmn(doc)


def test_utf16_documents_are_read():
    text = simple().decode("utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"')
    doc, problems = read(text.encode("utf-16"))
    assert problems == [] and doc.root.find(".//{*}userTask").get("name") == "受付"
