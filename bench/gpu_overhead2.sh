# Second call of the 2026-12-02 GPU session: after the CUDA runner's per-iteration plans (no ORT calls in the
# loop), the GPU timing tests and the CUDA overhead again. Same staging as gpu_overhead.sh.
export PYTHONUNBUFFERED=1 COLUMNS=100
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
mkdir -p /tmp/trtlab /tmp/t && cp -r trtlab /tmp/trtlab/ && for d in passes comparators reports; do cp -r $d /tmp/trtlab/trtlab/$d; done
cp -r tests bench pyproject.toml README.md /tmp/t/
export PYTHONPATH=/tmp/trtlab:/tmp/site:$PYTHONPATH TRTLAB_SHARED_MODELS=$PWD/.gpumodels
cd /tmp
echo "=== gpu tests (ort timing)"; (cd /tmp/t && timeout 90 python3 -m pytest -q -rs -s -m gpu -p no:cacheprovider tests/backends/test_ort_timing.py 2>&1 | tail -8)
echo "=== overhead cuda"; timeout 150 python3 /tmp/t/bench/bench_ort_timing.py --spec onnxrt:cuda --rounds 5 --seconds 0.5 --json $OUT/overhead_cuda2.json mnist_opt.onnx yunet_face_120x160.onnx fastestdet.onnx super_resolution.onnx road_segmentation_adas.onnx tbefn_lowlight_180x320.onnx
