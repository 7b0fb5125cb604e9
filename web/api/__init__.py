"""The JSON API under /api/v1 (marshmallow schemas, problem+json errors)."""
