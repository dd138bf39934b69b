"""Surgery: the pass runner behind ``trtlab surgeon``.

Owns running passes in order (``pipeline``: normalise, time, count nodes and bytes before/after) and checking
that each pass keeps the model's outputs (``verify``: run before and after on the same inputs). The passes
themselves live in ``trtlab.passes``.
"""
