"""Benchmarks run by ``make bench``: they print figures (``bench <name> <value> <unit>``), never assert."""
