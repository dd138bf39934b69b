"""Graph rewrite passes (installed as ``trtlab.passes``). The registry is ``trtlab.passes.registry.PASSES``."""
