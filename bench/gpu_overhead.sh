# GPU session of 2026-12-02 (third session): the CUDA timing overhead after the latency loop dropped its CUDA
# events, and `debug precision --target onnxrt:cuda,fp16`. Run on the lent H200 after the staged onnxruntime-gpu
# pieces (.gpu-stage/p1..p6) were installed into /tmp/site; .whl holds onnx-graphsurgeon, .gpumodels the models.
export PYTHONUNBUFFERED=1 COLUMNS=100
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
mkdir -p /tmp/trtlab /tmp/t && cp -r trtlab /tmp/trtlab/ && for d in passes comparators reports; do cp -r $d /tmp/trtlab/trtlab/$d; done
cp -r tests bench pyproject.toml README.md /tmp/t/
export PYTHONPATH=/tmp/trtlab:/tmp/site:$PYTHONPATH TRTLAB_SHARED_MODELS=$PWD/.gpumodels
M=$PWD/.gpumodels
cd /tmp
python3 -c "import onnxruntime as o, trtlab; print(o.__version__, o.get_available_providers(), trtlab.__file__)"
echo "=== gpu tests (ort timing)"; (cd /tmp/t && timeout 90 python3 -m pytest -q -rs -s -m gpu -p no:cacheprovider tests/backends/test_ort_timing.py 2>&1 | tail -8)
echo "=== overhead cuda"; timeout 150 python3 /tmp/t/bench/bench_ort_timing.py --spec onnxrt:cuda --rounds 5 --seconds 0.5 --json $OUT/overhead_cuda.json mnist_opt.onnx yunet_face_120x160.onnx fastestdet.onnx super_resolution.onnx road_segmentation_adas.onnx tbefn_lowlight_180x320.onnx
echo "=== overhead cpu"; timeout 40 python3 /tmp/t/bench/bench_ort_timing.py --rounds 3 --seconds 0.5 --json $OUT/overhead_cpu.json mnist_opt.onnx fastestdet.onnx
echo "=== run"; timeout 30 python3 -m trtlab run $M/fastestdet.onnx --backend onnxrt:cuda --duration 1 --out /tmp/r1 --timing-json $OUT/run_fastestdet_cuda.json
echo "=== debug precision on CUDA"; timeout 120 python3 -m trtlab debug precision $M/fastestdet.onnx --target onnxrt:cuda,fp16 -o /tmp/p.onnx --min-snr 50 --out /tmp/prec; echo "exit $?"
cp /tmp/prec/results.json $OUT/precision_cuda_results.json 2>/dev/null
