"""Reducer: ``trtlab debug reduce`` shrinks a failing model to the smallest reproducer.

Owns the search (``search``: bisection then a linear pass, under a check budget), the graph cuts (``graph``:
subgraph extraction with boundary inputs) and the failure checks (``checks``: parse, build, compare, a command).
"""
