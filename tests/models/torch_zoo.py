"""Architectures written in plain ``torch.nn`` with seeded random weights, exported to ONNX once and cached.

The corpus of models built by an exporter we did not write (tests/models/test_torch_zoo.py and the corpus tests in
tests/comparison, tests/surgery, tests/trt use it). Each architecture is small enough to export and run in about a
second on a CPU, but has the structure of the real thing: what PyTorch's exporter emits for it (Shape/Gather/
Concat chains for dynamic dims, Where-masked attention, fused Conv+BatchNorm, LSTM/GRU nodes, TopK post-processing)
is what trtlab's users feed it.

Exporters: every architecture goes through the TorchScript exporter (``torch.onnx.export(..., dynamo=False)``,
opset 13-17): it needs no extra package, exports all ten in about 10 s, and is what most deployed PyTorch ONNX
files were made with. torch 2.9+ defaults to the torch.export-based exporter (``dynamo=True``, opset 18, needs
onnxscript), which handles all ten too but takes about five times longer; ``DYNAMO`` names the architectures also
exported that way (``NAME@dynamo``, listed in ``NAMES`` when onnxscript is installed), since its graphs differ
(LayerNormalization instead of its pieces, no Shape chains for static dims, other node names).

Cache: ``$TRTLAB_TEST_CACHE`` (else ``~/.cache/trtlab-tests``) / ``torch_zoo`` / ``<torch version>-<hash>`` where
the hash covers this file's source, so editing an architecture re-exports and nothing else does. Files are written
to a temporary name and renamed, so an interrupted export leaves nothing half-written.

``ARCHS`` maps a name to an ``Arch``: the module factory, example inputs, names, dynamic axes, opset, and
``fp16_broken`` (True when FP16 storage genuinely wrecks the output: a verdict must fail).
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

SEED = 0


@dataclass(frozen=True)
class Arch:
    build: Callable  # () -> torch.nn.Module
    inputs: Callable  # (torch) -> tuple of example tensors
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    dynamic_axes: dict = field(default_factory=dict)
    opset: int = 17
    fp16_broken: bool = False  # FP16 storage overflows: the compare verdict must fail
    note: str = ""


def _nn():
    import torch

    return torch, torch.nn, torch.nn.functional


def _randomize_bn(module) -> None:
    """BatchNorm running statistics away from the (0, 1) defaults, as a trained model has them."""
    torch, nn, _ = _nn()
    for m in module.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.running_mean.copy_(torch.randn_like(m.running_mean) * 0.1)
            m.running_var.copy_(torch.rand_like(m.running_var) * 0.5 + 0.5)
            m.weight.data.copy_(torch.rand_like(m.weight) * 0.5 + 0.75)
            m.bias.data.copy_(torch.randn_like(m.bias) * 0.1)


# --- CNNs -----------------------------------------------------------------------------------------------------

def resnet():
    """A pre-activation ResNet (v2): BatchNorm before the convolution, so the exporter cannot fuse it into a Conv
    and BatchNormalization nodes reach the ONNX file; a strided 1x1 projection shortcut; global pooling; Gemm."""
    torch, nn, F = _nn()

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.bn1, self.conv1 = nn.BatchNorm2d(cin), nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn2, self.conv2 = nn.BatchNorm2d(cout), nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.proj = nn.Conv2d(cin, cout, 1, stride, bias=False) if stride != 1 or cin != cout else None

        def forward(self, x):
            y = F.relu(self.bn1(x))
            skip = self.proj(y) if self.proj is not None else x
            y = self.conv1(y)
            y = self.conv2(F.relu(self.bn2(y)))
            return y + skip

    class ResNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
            self.blocks = nn.Sequential(Block(16, 16, 1), Block(16, 32, 2), Block(32, 64, 2))
            self.bn, self.fc = nn.BatchNorm2d(64), nn.Linear(64, 10)

        def forward(self, x):
            y = F.relu(self.bn(self.blocks(self.stem(x))))
            return self.fc(torch.flatten(F.adaptive_avg_pool2d(y, 1), 1))

    return ResNet()


def mobilenet_v3():
    """MobileNetV3 inverted-residual blocks: 1x1 expand, depthwise 3x3/5x5, squeeze-excite (global pool, 1x1 convs,
    hardsigmoid, Mul), hardswish, 1x1 project with a residual; BatchNorm after every conv (fused by the exporter)."""
    torch, nn, F = _nn()

    class SE(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.fc1, self.fc2 = nn.Conv2d(c, c // 4, 1), nn.Conv2d(c // 4, c, 1)

        def forward(self, x):
            s = F.adaptive_avg_pool2d(x, 1)
            return x * F.hardsigmoid(self.fc2(F.relu(self.fc1(s))))

    class Block(nn.Module):
        def __init__(self, cin, cexp, cout, k, stride, se):
            super().__init__()
            self.expand = nn.Sequential(nn.Conv2d(cin, cexp, 1, bias=False), nn.BatchNorm2d(cexp), nn.Hardswish())
            self.dw = nn.Sequential(nn.Conv2d(cexp, cexp, k, stride, k // 2, groups=cexp, bias=False),
                                    nn.BatchNorm2d(cexp), nn.Hardswish())
            self.se = SE(cexp) if se else nn.Identity()
            self.project = nn.Sequential(nn.Conv2d(cexp, cout, 1, bias=False), nn.BatchNorm2d(cout))
            self.residual = stride == 1 and cin == cout

        def forward(self, x):
            y = self.project(self.se(self.dw(self.expand(x))))
            return x + y if self.residual else y

    class MobileNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.Hardswish())
            self.blocks = nn.Sequential(Block(16, 48, 16, 3, 1, True), Block(16, 64, 24, 5, 2, True),
                                        Block(24, 72, 24, 3, 1, False))
            self.head = nn.Sequential(nn.Linear(24, 64), nn.Hardswish(), nn.Linear(64, 10))

        def forward(self, x):
            y = F.adaptive_avg_pool2d(self.blocks(self.stem(x)), 1)
            return torch.softmax(self.head(torch.flatten(y, 1)), dim=-1)

    return MobileNet()


def unet():
    """A two-level UNet segmenter: MaxPool down, ConvTranspose up on one level and bilinear Resize (Upsample) on
    the other, Concat skip connections, a sigmoid mask."""
    torch, nn, F = _nn()

    def double(cin, cout):
        return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(),
                             nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU())

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.d1, self.d2, self.mid = double(3, 8), double(8, 16), double(16, 32)
            self.up2 = nn.ConvTranspose2d(32, 16, 2, stride=2)
            self.u2 = double(32, 16)
            self.u1 = double(16 + 8, 8)
            self.out = nn.Conv2d(8, 2, 1)

        def forward(self, x):
            a = self.d1(x)
            b = self.d2(F.max_pool2d(a, 2))
            c = self.mid(F.max_pool2d(b, 2))
            y = self.u2(torch.cat([self.up2(c), b], dim=1))
            y = F.interpolate(y, scale_factor=2.0, mode="bilinear", align_corners=False)
            return torch.sigmoid(self.out(self.u1(torch.cat([y, a], dim=1))))

    return UNet()


def detector():
    """A one-stage detector head with post-processing: conv backbone, per-anchor class logits and box deltas,
    sigmoid scores, max over classes, TopK of the anchors, Gather of their boxes decoded from anchor centres."""
    torch, nn, F = _nn()

    class Detector(nn.Module):
        def __init__(self, classes=5, anchors=3, k=20):
            super().__init__()
            self.classes, self.anchors, self.k = classes, anchors, k
            self.backbone = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1), nn.BatchNorm2d(16), nn.ReLU(),
                                          nn.Conv2d(16, 32, 3, 2, 1), nn.BatchNorm2d(32), nn.ReLU())
            self.cls = nn.Conv2d(32, anchors * classes, 3, padding=1)
            self.box = nn.Conv2d(32, anchors * 4, 3, padding=1)

        def forward(self, x):
            f = self.backbone(x)
            n, _, h, w = f.shape
            logits = self.cls(f).permute(0, 2, 3, 1).reshape(n, -1, self.classes)
            deltas = self.box(f).permute(0, 2, 3, 1).reshape(n, -1, 4)
            ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                                    indexing="ij")
            centres = torch.stack([xs, ys], -1).reshape(-1, 1, 2).expand(-1, self.anchors, 2).reshape(1, -1, 2)
            centres = (centres + 0.5) * 4.0
            xy = centres + deltas[..., :2] * 4.0
            wh = torch.exp(deltas[..., 2:].clamp(max=4.0)) * 8.0
            boxes = torch.cat([xy - wh / 2, xy + wh / 2], dim=-1)
            scores, labels = torch.sigmoid(logits).max(dim=-1)
            top, idx = scores.topk(self.k, dim=1)
            picked = torch.gather(boxes, 1, idx.unsqueeze(-1).expand(-1, -1, 4))
            return picked, top, torch.gather(labels, 1, idx)

    return Detector()


# --- sequence models ------------------------------------------------------------------------------------------

def _attention(nn, F, torch):
    class Attention(nn.Module):
        """Multi-head self-attention written out (the way HF BERT is): Q/K/V Linear, reshape to heads, scaled
        MatMul, additive mask, Softmax, MatMul, merge heads."""

        def __init__(self, d, heads):
            super().__init__()
            self.h, self.dk = heads, d // heads
            self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))

        def forward(self, x, bias=None):
            b, t, d = x.shape

            def split(y):
                return y.view(b, t, self.h, self.dk).transpose(1, 2)

            s = split(self.q(x)) @ split(self.k(x)).transpose(-1, -2) / (self.dk ** 0.5)
            if bias is not None:
                s = s + bias
            y = torch.softmax(s, dim=-1) @ split(self.v(x))
            return self.o(y.transpose(1, 2).reshape(b, t, d))

    return Attention


def bert():
    """A two-layer BERT encoder: int64 token ids and an int64 attention mask (dynamic batch and sequence), word +
    position + type embeddings, post-LayerNorm blocks with exact (erf) GELU, an additive -10000 mask, a tanh
    pooler over the first token. Outputs the hidden states and the pooled vector."""
    torch, nn, F = _nn()
    Attention = _attention(nn, F, torch)

    class Layer(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.att, self.ln1 = Attention(d, 4), nn.LayerNorm(d, eps=1e-12)
            self.ff1, self.ff2, self.ln2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d), nn.LayerNorm(d, eps=1e-12)

        def forward(self, x, bias):
            x = self.ln1(x + self.att(x, bias))
            return self.ln2(x + self.ff2(F.gelu(self.ff1(x))))

    class Bert(nn.Module):
        def __init__(self, vocab=100, d=32, max_len=64):
            super().__init__()
            self.word, self.pos, self.typ = nn.Embedding(vocab, d), nn.Embedding(max_len, d), nn.Embedding(2, d)
            self.ln = nn.LayerNorm(d, eps=1e-12)
            self.layers = nn.ModuleList([Layer(d), Layer(d)])
            self.pool = nn.Linear(d, d)

        def forward(self, input_ids, attention_mask):
            t = input_ids.shape[1]
            pos = torch.arange(t, device=input_ids.device).unsqueeze(0)
            x = self.ln(self.word(input_ids) + self.pos(pos) + self.typ(torch.zeros_like(input_ids)))
            bias = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * -10000.0
            for layer in self.layers:
                x = layer(x, bias)
            return x, torch.tanh(self.pool(x[:, 0]))

    return Bert()


def _bert_inputs(torch):
    ids = torch.randint(0, 100, (2, 12), generator=torch.Generator().manual_seed(SEED))
    mask = torch.ones(2, 12, dtype=torch.int64)
    mask[1, 8:] = 0
    return ids, mask


def vit():
    """A ViT patch encoder: Conv patch embedding (stride = patch), flatten, a learned class token (Concat), position
    embeddings, pre-LayerNorm transformer blocks with tanh-GELU, the class token's LayerNorm then a linear head."""
    torch, nn, F = _nn()
    Attention = _attention(nn, F, torch)

    class Block(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.ln1, self.att = nn.LayerNorm(d, eps=1e-6), Attention(d, 4)
            self.ln2, self.ff1, self.ff2 = nn.LayerNorm(d, eps=1e-6), nn.Linear(d, 2 * d), nn.Linear(2 * d, d)

        def forward(self, x):
            x = x + self.att(self.ln1(x))
            return x + self.ff2(F.gelu(self.ff1(self.ln2(x)), approximate="tanh"))

    class ViT(nn.Module):
        def __init__(self, d=48, patch=8, size=32):
            super().__init__()
            self.patch = nn.Conv2d(3, d, patch, patch)
            self.cls = nn.Parameter(torch.randn(1, 1, d) * 0.02)
            self.pos = nn.Parameter(torch.randn(1, (size // patch) ** 2 + 1, d) * 0.02)
            self.blocks = nn.Sequential(Block(d), Block(d))
            self.ln, self.head = nn.LayerNorm(d, eps=1e-6), nn.Linear(d, 10)

        def forward(self, x):
            p = self.patch(x).flatten(2).transpose(1, 2)
            x = torch.cat([self.cls.expand(p.shape[0], -1, -1), p], dim=1) + self.pos
            return self.head(self.ln(self.blocks(x))[:, 0])

    return ViT()


def recurrent():
    """A speech-style recurrent tagger: a bidirectional LSTM then a GRU over [batch, time, features] (both dims
    dynamic), a linear head with log-softmax per frame."""
    torch, nn, F = _nn()

    class Recurrent(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(16, 24, batch_first=True, bidirectional=True)
            self.gru = nn.GRU(48, 24, batch_first=True)
            self.head = nn.Linear(24, 8)

        def forward(self, x):
            y, _ = self.lstm(x)
            y, _ = self.gru(y)
            return F.log_softmax(self.head(y), dim=-1)

    return Recurrent()


def tcn():
    """A temporal conv net with dynamic batch and sequence: Conv1d stack on [batch, channels, time], reshapes that
    read the dims at run time (Shape, Gather, Concat, Reshape chains), a masked mean over time from a float
    lengths input."""
    torch, nn, F = _nn()

    class TCN(nn.Module):
        def __init__(self):
            super().__init__()
            self.convs = nn.ModuleList([nn.Conv1d(8, 16, 3, padding=1), nn.Conv1d(16, 16, 3, padding=2, dilation=2)])
            self.norm = nn.GroupNorm(4, 16)
            self.head = nn.Linear(16, 4)

        def forward(self, x, lengths):
            b, c, t = x.shape
            y = x
            for conv in self.convs:
                y = F.silu(conv(y))
            y = self.norm(y)
            frames = y.transpose(1, 2).reshape(b * t, -1)
            per_frame = self.head(frames).reshape(b, t, -1)
            steps = torch.arange(t, dtype=torch.float32).unsqueeze(0)
            mask = (steps < lengths.unsqueeze(1)).to(per_frame.dtype).unsqueeze(-1)
            return (per_frame * mask).sum(1) / mask.sum(1).clamp(min=1.0)

    return TCN()


# --- models whose FP16 storage genuinely breaks ---------------------------------------------------------------

def risky_layernorm():
    """A hand-written LayerNorm (as tf2onnx and older PyTorch code emit it: ReduceMean, Sub, Pow, ReduceMean, Add,
    Sqrt, Div) over activations with outlier channels of magnitude ~400, whatever the input: the squared deviations
    exceed 65504, so FP16 storage gives Inf, the normalised activations collapse to 0 and the output to the last
    layer's bias (the same row for every input). FP32 is fine."""
    torch, nn, F = _nn()

    class RiskyLN(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(16, 64), nn.Linear(64, 10)
            with torch.no_grad():  # channels offset by +-400 (outlier channels): their squares overflow FP16
                self.fc1.bias.copy_(torch.tensor([400.0, -400.0]).repeat(32) + self.fc1.bias)

        def forward(self, x):
            h = self.fc1(x)
            mu = h.mean(-1, keepdim=True)
            var = ((h - mu) ** 2).mean(-1, keepdim=True)
            return self.fc2((h - mu) / torch.sqrt(var + 1e-5))

    return RiskyLN()


def risky_softmax():
    """A hand-written softmax without the max subtraction, over logits around 12: exp(12) = 1.6e5 overflows FP16,
    so the division gives Inf/Inf = NaN (or 0) in every row. FP32 is fine."""
    torch, nn, F = _nn()

    class RiskySoftmax(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(16, 12)
            with torch.no_grad():  # logits around 12, whatever the input: exp(11.1) is already above 65504
                self.fc.bias.add_(12.0)

        def forward(self, x):
            e = torch.exp(self.fc(x))
            return e / e.sum(-1, keepdim=True)

    return RiskySoftmax()


def _image(size=32, batch=1):
    return lambda torch: (torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(SEED)),)


def _seq(shape):
    return lambda torch: (torch.randn(*shape, generator=torch.Generator().manual_seed(SEED)),)


def _tcn_inputs(torch):
    g = torch.Generator().manual_seed(SEED)
    return torch.randn(2, 8, 20, generator=g), torch.tensor([20.0, 13.0])


ARCHS: dict[str, Arch] = {
    "resnet": Arch(resnet, _image(), ("image",), ("logits",), {"image": {0: "batch"}, "logits": {0: "batch"}}),
    "mobilenet_v3": Arch(mobilenet_v3, _image(), ("image",), ("probs",)),
    "unet": Arch(unet, _image(), ("image",), ("mask",)),
    "detector": Arch(detector, _image(64), ("image",), ("boxes", "scores", "labels"), opset=13),
    "bert": Arch(bert, _bert_inputs, ("input_ids", "attention_mask"), ("hidden", "pooled"),
                 {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                  "hidden": {0: "batch", 1: "seq"}, "pooled": {0: "batch"}}, opset=14),
    "vit": Arch(vit, _image(), ("image",), ("logits",)),
    "recurrent": Arch(recurrent, _seq((2, 15, 16)), ("features",), ("log_probs",),
                      {"features": {0: "batch", 1: "time"}, "log_probs": {0: "batch", 1: "time"}}),
    "tcn": Arch(tcn, _tcn_inputs, ("x", "lengths"), ("y",),
                {"x": {0: "batch", 2: "time"}, "lengths": {0: "batch"}, "y": {0: "batch"}}),
    "risky_layernorm": Arch(risky_layernorm, _seq((4, 16)), ("x",), ("y",), fp16_broken=True),
    "risky_softmax": Arch(risky_softmax, _seq((4, 16)), ("x",), ("probs",), fp16_broken=True),
}


DYNAMO = ("resnet", "bert", "vit", "detector", "risky_layernorm")


def _has_onnxscript() -> bool:
    from importlib.util import find_spec

    return find_spec("onnxscript") is not None


NAMES = list(ARCHS) + ([f"{n}@dynamo" for n in DYNAMO] if _has_onnxscript() else [])


def arch(name: str) -> Arch:
    """The architecture behind a corpus name (``bert`` or ``bert@dynamo``)."""
    return ARCHS[name.split("@")[0]]


def torch_version() -> str | None:
    """The installed torch's version without importing it (a cached corpus needs no torch import), or None."""
    from importlib import metadata

    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:
        return None


def cache_dir() -> Path:
    base = Path(os.environ.get("TRTLAB_TEST_CACHE") or Path.home() / ".cache" / "trtlab-tests")
    digest = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
    return base / "torch_zoo" / f"torch{torch_version()}-{digest}"


def _build(name: str):
    import torch

    torch.manual_seed(SEED)
    model = arch(name).build()
    _randomize_bn(model)
    return model.eval()


def _run_torch(model, inputs, half: bool) -> list:
    import torch

    if half:
        model = model.half()
        inputs = tuple(x.half() if x.is_floating_point() else x for x in inputs)
    with torch.no_grad():
        out = model(*inputs)
    out = out if isinstance(out, tuple) else (out,)
    return [o.float().numpy() if o.is_floating_point() else o.numpy() for o in out]


def export(name: str) -> Path:
    """The ONNX file of architecture ``name``, exported on first use and then read from the cache, with
    ``NAME.npz`` beside it: the example inputs (``input/<name>``, what ``--load-inputs`` reads), and PyTorch's own
    outputs on them in FP32 (``torch_fp32/<output>``) and with the module and float inputs in FP16
    (``torch_fp16/<output>``: an FP16 computation independent of trtlab's simulation)."""
    spec = arch(name)
    path = cache_dir() / f"{name}.onnx"
    if path.exists() and path.with_suffix(".npz").exists():
        return path
    import numpy as np
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    inputs = spec.inputs(torch)
    tmp = path.with_name(f".{name}.{os.getpid()}.tmp")
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        dynamo = name.endswith("@dynamo")
        torch.onnx.export(_build(name), inputs, str(tmp) + ".onnx", input_names=list(spec.input_names),
                          output_names=list(spec.output_names), dynamic_axes=spec.dynamic_axes or None,
                          opset_version=18 if dynamo else spec.opset, dynamo=dynamo)
    arrays = {f"input/{n}": x.numpy() for n, x in zip(spec.input_names, inputs)}
    for key, half in (("torch_fp32", False), ("torch_fp16", True)):
        outs = _run_torch(_build(name), inputs, half)
        arrays.update({f"{key}/{n}": o for n, o in zip(spec.output_names, outs)})
    np.savez(str(tmp) + ".npz", **arrays)
    Path(str(tmp) + ".npz").replace(path.with_suffix(".npz"))
    Path(str(tmp) + ".onnx").replace(path)
    return path


def data(name: str) -> dict[str, dict]:
    """``{"input": {name: array}, "torch_fp32": {output: array}, "torch_fp16": {...}}`` for architecture ``name``."""
    import numpy as np

    out: dict[str, dict] = {"input": {}, "torch_fp32": {}, "torch_fp16": {}}
    with np.load(export(name).with_suffix(".npz")) as npz:
        for key in npz.files:
            group, tensor = key.split("/", 1)
            out[group][tensor] = npz[key]
    return out


def names(fast) -> list:
    """Every corpus name as a pytest parameter: the ``fast`` ones run in the default suite, the rest are marked
    slow (the full sweep)."""
    import pytest

    return [pytest.param(n, marks=() if n in fast else pytest.mark.slow) for n in NAMES]
