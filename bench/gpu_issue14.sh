# The GPU session of docs/gpu.md (2026-12-02, issue 14), as run on the lent H200: onnxruntime-gpu, onnx-graphsurgeon
# and this checkout's trtlab on PYTHONPATH; models in $G/models (TRTLAB_SHARED_MODELS). Results under $OUT.
# this checkout's own trtlab/ folder does not shadow the installed copy.
export PYTHONUNBUFFERED=1 COLUMNS=100
G=$PWD/.gpu14
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site $G/whl/*.whl
mkdir -p /tmp/trtlab && cp -r $G/src/trtlab /tmp/trtlab/ && for d in passes comparators reports; do cp -r $G/src/$d /tmp/trtlab/trtlab/$d; done
export PYTHONPATH=/tmp/trtlab:/tmp/site:$PYTHONPATH TRTLAB_SHARED_MODELS=$G/models
M=$G/models
mkdir -p /tmp/t && cp -r $G/src/tests $G/src/bench $G/src/pyproject.toml $G/src/README.md /tmp/t/
cd /tmp
echo "=== trtlab doctor --for run"; python3 -m trtlab doctor --for run; echo "exit $?"
echo "=== GPU suite"; (cd /tmp/t && timeout 200 python3 -m pytest -q -rs -s -m gpu -p no:cacheprovider tests/backends tests/trt 2>&1 | grep -v "^SKIPPED" | tail -25)
R=/tmp/runs; mkdir -p $R
for spec in onnxrt:cuda onnxrt:cuda,tf32=0; do
 for m in fastestdet.onnx yunet_face_120x160.onnx road_segmentation_adas.onnx super_resolution.onnx@input:4x1x224x224; do
  f=${m%@*}; sh=${m#*@}; extra=""; [ "$sh" != "$m" ] && extra="--input-shapes $sh"
  n=${f%.onnx}_${spec//[:,=]/_}
  echo "=== trtlab run $f --backend $spec --profile-nodes --duration 2 $extra"
  python3 -m trtlab run $M/$f --backend $spec --profile-nodes --duration 2 --top 10 --out $R/$n $extra --timing-json $R/$n.timing.json
 done
done
echo "=== CPU"; python3 -m trtlab run $M/fastestdet.onnx --backend onnxrt --profile-nodes --duration 2 --top 5 --out $R/fastestdet_cpu
echo "=== run sweep"; python3 -m trtlab run $M/super_resolution.onnx --backend onnxrt:cuda,tf32=0 --sweep-shapes input:1x1x224x224:16x1x224x224 --sweep-points 5 --duration 1 --out $R/sweep_sr
echo "=== run profile"; python3 -m trtlab run $M/super_resolution.onnx --backend onnxrt:cuda --profile input:1x1x224x224:4x1x224x224:8x1x224x224 --duration 1 --input-shapes input:4x1x224x224 --out $R/sweep_sr_profile
echo "=== compare sweep"; python3 -m trtlab compare $M/super_resolution.onnx --ref onnxrt:cuda,tf32=0 --target onnxrt:cuda,fp16 --sweep-shapes input:1x1x224x224:16x1x224x224 --sweep-points 5 --out $R/compare_sweep_sr; echo "exit $?"
echo "=== overhead"; timeout 100 python3 /tmp/t/bench/bench_ort_timing.py --json $OUT/overhead_cpu.json --rounds 7 --seconds 1
timeout 100 python3 /tmp/t/bench/bench_ort_timing.py --spec onnxrt:cuda --json $OUT/overhead_cuda.json --rounds 7 --seconds 1
echo "=== coverage threads=1"; timeout 150 python3 /tmp/t/bench/profile_coverage.py --spec onnxrt:threads=1 --json $OUT/coverage_cpu_t1.json
tar -C /tmp -czf $OUT/runs.tgz runs
# third session (after the runner moved to pinned host buffers)
echo "=== overhead"; timeout 150 python3 /tmp/t/bench/bench_ort_timing.py --spec onnxrt:cuda --json $OUT/overhead_cuda3.json --rounds 7 --seconds 1 mnist_opt.onnx yunet_face_120x160.onnx fastestdet.onnx super_resolution.onnx road_segmentation_adas.onnx tbefn_lowlight_180x320.onnx
timeout 60 python3 /tmp/t/bench/bench_ort_timing.py --json $OUT/overhead_cpu3.json --rounds 5 --seconds 1 mnist_opt.onnx fastestdet.onnx
R=/tmp/runs; mkdir -p $R
for m in fastestdet.onnx road_segmentation_adas.onnx poly_unbounded_dds.onnx; do
  echo "=== trtlab run $m --backend onnxrt:cuda"; python3 -m trtlab run $M/$m --backend onnxrt:cuda --duration 1 --out $R/${m%.onnx}_cuda3 --profile-nodes --top 3
done
echo "=== sweep"; python3 -m trtlab run $M/super_resolution.onnx --backend onnxrt:cuda,tf32=0 --sweep-shapes input:1x1x224x224:16x1x224x224 --sweep-points 5 --duration 1 --out $R/sweep_sr3
tar -C /tmp -czf $OUT/runs3.tgz runs
