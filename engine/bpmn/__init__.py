"""Everything that touches BPMN XML and SpiffWorkflow: parsing, conventions, validation, running.

SpiffWorkflow imports are confined to this package (and :mod:`engine.runtime`), so the rest of the
engine works with plain data.
"""
