"""Plugin substitution: rules (pattern -> replacement op or TensorRT plugin), a matcher that explains near
misses, the rewrite, and NumPy reference implementations so a rewritten model still runs on the CPU.

Modules: ``rules`` (the rule model), ``spec`` (load YAML / Python / builtin rules), ``matcher``, ``rewrite``,
``shipped`` (LayerNorm, GELU, NMS), ``reference`` (NumPy implementations). Imports stay inside functions.
"""
