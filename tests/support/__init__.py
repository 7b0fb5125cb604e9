"""Test helpers: BPMN builders, factories and drivers shared by the test modules."""
