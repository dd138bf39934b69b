"""Mixed precision: find the nodes to keep in FP32 so an FP16/BF16 model meets an accuracy goal.

- ``sim``: which nodes the to-fp16/to-bf16 pass runs in half precision, and a faithful storage simulation of the
  mixed model for a given FP32 keep-set (onnxruntime's CPU provider computes FP16 nodes in FP32 and elides the
  Casts between them, so running the converted model on CPU hides overflow; the simulation does not);
- ``risk``: one FP32 run: per node the ranges that FP16/BF16 cannot hold, weights that lose precision, long
  reductions; and one half-precision run: the error each node introduces;
- ``evaluate``: the goal, and the evaluator that judges a keep-set on the search or held-out samples (FP32
  reference outputs cached, results memoized by keep-set, counted);
- ``search``: seeded growth over the ranked candidates, then pruning until every kept node is necessary;
- ``widen``: a faithful CPU run of any FP16/BF16 model file (FP32 arithmetic, half storage kept), and the share
  of a mixed model's float compute in half precision;
- ``run``: the ``debug precision`` pipeline and its result (schema ``trtlab.debug.precision/1``);
- ``qdq``: the per-pair quantization error of a Q/DQ model.
"""
