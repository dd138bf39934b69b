"""Findings of a compare run: the rules live in ``trtlab.comparators.findings`` (the terminal shows them too)."""

from trtlab.comparators.findings import RULES, Finding, compare_findings

__all__ = ["RULES", "Finding", "compare_findings"]
