"""torchvision detection and segmentation models exported to ONNX with seeded random weights (nothing downloaded).

Needs torch and torchvision (not in the dev extras: CI skips these with the reason). Files are cached: built once
into ``cache_dir()`` (``$TRTLAB_TEST_CACHE`` or ``~/.cache/trtlab-tests``, folder ``torchvision``), keyed by the
torch/torchvision versions.

- ``retinanet``: RetinaNet ResNet-50 FPN at 320x320, ``score_thresh=0`` so it always returns its 300 detections
  (``detections_per_img``): with random weights every score sits near the 0.01 prior, so scores ~1e-6 apart decide
  the order, the case the issue started from. Outputs ``boxes`` [N, 4], ``scores`` [N], ``labels`` [N] (N
  data-dependent).
- ``deeplab``: DeepLabV3 MobileNetV3-Large, 21 classes, 256x256; output ``out`` [1, 21, 256, 256].
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

SIZE_DET, SIZE_SEG, SEED = 320, 256, 0


def cache_dir() -> Path:
    return Path(os.environ.get("TRTLAB_TEST_CACHE") or Path.home() / ".cache" / "trtlab-tests") / "torchvision"


def _export(name: str, build, example_shape, output_names, opset: int = 17) -> Path:
    import torch
    import torchvision

    path = cache_dir() / f"tv-{name}-torch{torch.__version__}-tv{torchvision.__version__}.onnx"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(SEED)
    model = build().eval()
    x = torch.rand(*example_shape)
    tmp = path.with_suffix(".tmp.onnx")
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), str(tmp), input_names=["image"], output_names=output_names,
                          opset_version=opset, dynamo=False)
    tmp.replace(path)
    return path


def retinanet() -> Path:
    from torchvision.models.detection import retinanet_resnet50_fpn

    class Single(__import__("torch").nn.Module):
        """One image [1, 3, H, W] in, the first image's boxes/scores/labels out (what a deployment exports)."""

        def __init__(self):
            super().__init__()
            self.net = retinanet_resnet50_fpn(weights=None, weights_backbone=None, score_thresh=0.0,
                                              min_size=SIZE_DET, max_size=SIZE_DET, detections_per_img=300)

        def forward(self, x):
            out = self.net(list(x))[0]
            return out["boxes"], out["scores"], out["labels"]

    return _export("retinanet", Single, (1, 3, SIZE_DET, SIZE_DET), ["boxes", "scores", "labels"])


def deeplab() -> Path:
    import torch
    from torchvision.models.segmentation import deeplabv3_mobilenet_v3_large

    class Out(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = deeplabv3_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=21,
                                                    aux_loss=False)

        def forward(self, x):
            return self.net(x)["out"]

    return _export("deeplab", Out, (1, 3, SIZE_SEG, SIZE_SEG), ["out"])
