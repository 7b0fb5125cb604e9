"""Hardened XML reading for BPMN files, and element-id → line lookup for error messages.

lxml parses with entity resolution, DTD loading and network access off and ``huge_tree`` off; a
document type declaration is refused outright, and files above the size cap never reach the parser.
SpiffWorkflow never parses text itself: it receives the tree built here.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from ..errors import Problem

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
DC_NS = "http://www.omg.org/spec/DD/20100524/DC"
DI_NS = "http://www.omg.org/spec/DD/20100524/DI"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
DMN_NAMESPACES = {
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
    "http://www.omg.org/spec/DMN/20180521/MODEL/",
}
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
NSMAP = {"bpmn": BPMN_NS, "bpmndi": BPMNDI_NS, "dc": DC_NS, "di": DI_NS, "camunda": CAMUNDA_NS,
         "spiffworkflow": SPIFF_NS}


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, remove_comments=False, collect_ids=False)


@dataclass
class XmlDocument:
    name: str
    root: etree._Element
    lines: dict[str, int]

    def line_of(self, element_id: str | None) -> int | None:
        return self.lines.get(element_id or "")


def bpmn(tag: str) -> str:
    return f"{{{BPMN_NS}}}{tag}"


def local_name(element: etree._Element) -> str:
    tag = element.tag
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def read_document(name: str, data: bytes,  # noqa: PLR0911 - one return per way a file can be unreadable
                  max_bytes: int) -> tuple[XmlDocument | None, list[Problem]]:
    """Parse ``data`` safely; return the document or the problems that prevent reading it."""
    if len(data) > max_bytes:
        return None, [Problem(name, None, None, f"file is {len(data):,} bytes; the limit is {max_bytes:,}",
                              code="too_large")]
    if not data.strip():
        return None, [Problem(name, None, None, "file is empty", code="not_xml")]
    head = data[:4096].lstrip(b"\xef\xbb\xbf").lstrip()
    if b"<!DOCTYPE" in data[:65536].upper():
        line = data[: data.upper().find(b"<!DOCTYPE")].count(b"\n") + 1
        return None, [Problem(name, line, None, "document type declarations (<!DOCTYPE>) are not allowed",
                              code="doctype")]
    if not head.startswith(b"<") and not data.startswith(UTF16_BOMS):
        return None, [Problem(name, 1, None, "not an XML document", code="not_xml")]
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        line = exc.lineno or (exc.position[0] if exc.position else None)
        return None, [Problem(name, line, None, f"malformed XML: {exc.msg}", code="not_xml")]
    except (etree.LxmlError, ValueError) as exc:
        return None, [Problem(name, None, None, f"unreadable XML: {exc}", code="not_xml")]
    if root.getroottree().docinfo.doctype:
        return None, [Problem(name, 1, None, "document type declarations (<!DOCTYPE>) are not allowed",
                              code="doctype")]
    lines = {}
    for element in root.iter():
        element_id = element.get("id") if isinstance(element.tag, str) else None
        if element_id and element_id not in lines:
            lines[element_id] = element.sourceline
    return XmlDocument(name=name, root=root, lines=lines), []


def is_bpmn(doc: XmlDocument) -> bool:
    return doc.root.tag == bpmn("definitions")


def is_dmn(doc: XmlDocument) -> bool:
    return etree.QName(doc.root.tag).namespace in DMN_NAMESPACES
