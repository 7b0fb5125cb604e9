"""Build small BPMN documents (with diagram layout) in tests, instead of hand-writing XML.

b = ProcessBuilder("p", "テスト")
b.lane("窓口", "start", "a")
b.start("start", form="intake")
b.user("a", "受付", form="note", due="3BD")
b.end("end")
b.flow("start", "a"); b.flow("a", "end")
xml = b.xml()
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

HEADER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" '
    'xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" '
    'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs_{pid}" '
    'targetNamespace="http://tsunagu.example/bpmn">\n'
)


def props(**values: str | None) -> str:
    items = "".join(
        f'<spiffworkflow:property name="{k}" value={quoteattr(v)}/>'
        for k, v in values.items()
        if v is not None
    )
    if not items:
        return ""
    return (
        f"<bpmn:extensionElements><spiffworkflow:properties>{items}</spiffworkflow:properties>"
        "</bpmn:extensionElements>"
    )


@dataclass
class ProcessBuilder:
    pid: str
    name: str
    executable: bool = True
    elements: list[str] = field(default_factory=list)
    order: list[str] = field(default_factory=list)
    lanes: dict[str, list[str]] = field(default_factory=dict)
    flows: list[str] = field(default_factory=list)
    _flow_n: int = 0

    def _add(self, element_id: str, xml: str) -> ProcessBuilder:
        self.elements.append(xml)
        self.order.append(element_id)
        return self

    def lane(self, name: str, *ids: str) -> ProcessBuilder:
        self.lanes.setdefault(name, []).extend(ids)
        return self

    def start(self, element_id: str = "start", name: str = "開始", form: str | None = None) -> ProcessBuilder:
        return self._add(
            element_id,
            f'<bpmn:startEvent id="{element_id}" name={quoteattr(name)}>'
            f"{props(formKey=form)}</bpmn:startEvent>",
        )

    def end(self, element_id: str = "end", name: str = "終了") -> ProcessBuilder:
        return self._add(element_id, f'<bpmn:endEvent id="{element_id}" name={quoteattr(name)}/>')

    def user(
        self,
        element_id: str,
        name: str,
        form: str | None = "note",
        due: str | None = None,
        assignee: str | None = None,
        stage: str | None = None,
        loop: str | None = None,
        extra: str = "",
        **more: str,
    ) -> ProcessBuilder:
        inner = props(formKey=form, due=due, assignee=assignee, stage=stage, **more)
        if loop:
            inner += (
                f"<bpmn:standardLoopCharacteristics><bpmn:loopCondition>{escape(loop)}"
                "</bpmn:loopCondition></bpmn:standardLoopCharacteristics>"
            )
        return self._add(
            element_id,
            f'<bpmn:userTask id="{element_id}" name={quoteattr(name)} {extra}>{inner}</bpmn:userTask>',
        )

    def raw(self, element_id: str, xml: str) -> ProcessBuilder:
        return self._add(element_id, xml)

    def xor(self, element_id: str, name: str = "", default: str | None = None, **more: str) -> ProcessBuilder:
        d = f' default="{default}"' if default else ""
        return self._add(
            element_id,
            f'<bpmn:exclusiveGateway id="{element_id}" name={quoteattr(name)}{d}>'
            f"{props(**more)}</bpmn:exclusiveGateway>",
        )

    def parallel(self, element_id: str, name: str = "") -> ProcessBuilder:
        return self._add(element_id, f'<bpmn:parallelGateway id="{element_id}" name={quoteattr(name)}/>')

    def timer_boundary(
        self, element_id: str, host: str, duration: str, interrupting: bool = True, name: str = "期限"
    ) -> ProcessBuilder:
        cancel = "true" if interrupting else "false"
        return self._add(
            element_id,
            f'<bpmn:boundaryEvent id="{element_id}" name={quoteattr(name)} '
            f'attachedToRef="{host}" cancelActivity="{cancel}"><bpmn:timerEventDefinition>'
            f"<bpmn:timeDuration>{escape(duration)}</bpmn:timeDuration>"
            "</bpmn:timerEventDefinition></bpmn:boundaryEvent>",
        )

    def timer_catch(self, element_id: str, duration: str, name: str = "待機") -> ProcessBuilder:
        return self._add(
            element_id,
            f'<bpmn:intermediateCatchEvent id="{element_id}" name={quoteattr(name)}>'
            f"<bpmn:timerEventDefinition><bpmn:timeDuration>{escape(duration)}"
            "</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>",
        )

    def call(self, element_id: str, called: str, name: str = "呼出") -> ProcessBuilder:
        return self._add(
            element_id,
            f'<bpmn:callActivity id="{element_id}" name={quoteattr(name)} calledElement="{called}"/>',
        )

    def flow(
        self,
        source: str,
        target: str,
        condition: str | None = None,
        flow_id: str | None = None,
        name: str = "",
    ) -> str:
        self._flow_n += 1
        fid = flow_id or f"flow_{self._flow_n}"
        cond = (
            f"<bpmn:conditionExpression>{escape(condition)}</bpmn:conditionExpression>" if condition else ""
        )
        self.flows.append(
            f'<bpmn:sequenceFlow id="{fid}" name={quoteattr(name)} sourceRef="{source}" '
            f'targetRef="{target}">{cond}</bpmn:sequenceFlow>'
        )
        return fid

    def process_xml(self) -> str:
        lanes = ""
        if self.lanes:
            lanes = (
                f'<bpmn:laneSet id="lanes_{self.pid}">'
                + "".join(
                    f'<bpmn:lane id="lane_{self.pid}_{i}" name={quoteattr(n)}>'
                    + "".join(f"<bpmn:flowNodeRef>{r}</bpmn:flowNodeRef>" for r in refs)
                    + "</bpmn:lane>"
                    for i, (n, refs) in enumerate(self.lanes.items())
                )
                + "</bpmn:laneSet>"
            )
        exe = "true" if self.executable else "false"
        return (
            f'<bpmn:process id="{self.pid}" name={quoteattr(self.name)} isExecutable="{exe}">{lanes}'
            + "\n".join(self.elements)
            + "\n"
            + "\n".join(self.flows)
            + "</bpmn:process>\n"
        )

    def diagram_xml(self) -> str:
        shapes = []
        for i, element_id in enumerate(self.order):
            x, y = 100 + 160 * i, 100 + (i % 3) * 10
            shapes.append(
                f'<bpmndi:BPMNShape id="{element_id}_di" bpmnElement="{element_id}">'
                f'<dc:Bounds x="{x}" y="{y}" width="100" height="80"/></bpmndi:BPMNShape>'
            )
        return (
            f'<bpmndi:BPMNDiagram id="diagram_{self.pid}"><bpmndi:BPMNPlane id="plane_{self.pid}" '
            f'bpmnElement="{self.pid}">' + "".join(shapes) + "</bpmndi:BPMNPlane></bpmndi:BPMNDiagram>"
        )

    def xml(self, *others: ProcessBuilder) -> str:
        body = self.process_xml() + "".join(o.process_xml() for o in others)
        return HEADER.format(pid=self.pid) + body + self.diagram_xml() + "</bpmn:definitions>\n"
