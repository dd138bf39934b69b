import subprocess
import sys


def test_import_trtlab_is_light():
    code = ("import sys, trtlab, trtlab.cli.main; trtlab.cli.main.build_parser(); "
            "heavy = [m for m in ('onnxruntime', 'tensorrt', 'tensorrt_rtx', 'matplotlib') if m in sys.modules]; "
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"import trtlab (and building the CLI parser) pulled in: {out}"
