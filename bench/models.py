"""Benchmark models: a ResNet-50-sized CNN and a BERT-base-sized encoder, exported to ONNX with seeded weights.

Both are hand-written torch modules (no torchvision/transformers, nothing downloaded) with the real
architectures' layer counts and widths, so parameter counts, tensor counts and graph shapes match the originals:

- ``resnet50``: bottleneck ResNet-50 (3-4-6-3 blocks, widths 64..2048, BatchNorm, 1000 classes), ~25.6 M
  parameters, input ``input`` float32 [batch, 3, 224, 224].
- ``bert``: BERT-base encoder (12 layers, hidden 768, 12 heads, FFN 3072, vocab 30522, 512 positions, 2 token
  types, exact-erf GELU, pooler), ~110 M parameters, inputs ``input_ids``/``attention_mask``/``token_type_ids``
  int64 [batch, seq]. The attention mask is turned into an additive bias as the classic Hugging Face code does
  (``(1.0 - mask) * -10000``), and positions come from ``arange(seq)``, so the export carries the usual
  Shape/Gather/Unsqueeze/Concat chains and Constant nodes of a real PyTorch export.

Exported with the TorchScript exporter (``dynamo=False``) at opset 17 with dynamic batch/sequence axes, the way
most deployed exports were produced. Files are cached under ``bench/out/`` (gitignored); ``python
bench/models.py`` builds both.
"""

from __future__ import annotations

import math
import sys
import warnings
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
OPSET = 17
SEED = 0
BERT_VOCAB = 30522


def _torch_modules():
    import torch
    from torch import nn

    class Bottleneck(nn.Module):
        def __init__(self, cin, width, stride):
            super().__init__()
            cout = width * 4
            self.conv1, self.bn1 = nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width)
            self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(width)
            self.conv3, self.bn3 = nn.Conv2d(width, cout, 1, bias=False), nn.BatchNorm2d(cout)
            self.down = None
            if stride != 1 or cin != cout:
                self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            y = torch.relu(self.bn1(self.conv1(x)))
            y = torch.relu(self.bn2(self.conv2(y)))
            y = self.bn3(self.conv3(y))
            return torch.relu(y + (x if self.down is None else self.down(x)))

    class ResNet50(nn.Module):
        def __init__(self, classes=1000):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                                      nn.MaxPool2d(3, 2, 1))
            blocks, cin = [], 64
            for width, count, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
                for i in range(count):
                    blocks.append(Bottleneck(cin, width, stride if i == 0 else 1))
                    cin = width * 4
            self.blocks = nn.Sequential(*blocks)
            self.fc = nn.Linear(2048, classes)

        def forward(self, x):
            x = self.blocks(self.stem(x))
            return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))

    class SelfAttention(nn.Module):
        def __init__(self, hidden, heads):
            super().__init__()
            self.heads, self.head_dim = heads, hidden // heads
            self.q, self.k, self.v = nn.Linear(hidden, hidden), nn.Linear(hidden, hidden), nn.Linear(hidden, hidden)
            self.o, self.ln = nn.Linear(hidden, hidden), nn.LayerNorm(hidden, eps=1e-12)

        def split(self, x):
            b, s = x.size(0), x.size(1)
            return x.view(b, s, self.heads, self.head_dim).permute(0, 2, 1, 3)

        def forward(self, x, bias):
            q, k, v = self.split(self.q(x)), self.split(self.k(x)), self.split(self.v(x))
            scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim) + bias
            ctx = torch.matmul(torch.softmax(scores, dim=-1), v).permute(0, 2, 1, 3).contiguous()
            ctx = ctx.view(ctx.size(0), ctx.size(1), self.heads * self.head_dim)
            return self.ln(self.o(ctx) + x)

    class Layer(nn.Module):
        def __init__(self, hidden, heads, ffn):
            super().__init__()
            self.attn = SelfAttention(hidden, heads)
            self.up, self.down = nn.Linear(hidden, ffn), nn.Linear(ffn, hidden)
            self.ln = nn.LayerNorm(hidden, eps=1e-12)

        def forward(self, x, bias):
            x = self.attn(x, bias)
            return self.ln(self.down(nn.functional.gelu(self.up(x))) + x)

    class Bert(nn.Module):
        def __init__(self, vocab=BERT_VOCAB, hidden=768, layers=12, heads=12, ffn=3072, positions=512, types=2):
            super().__init__()
            self.words, self.pos = nn.Embedding(vocab, hidden), nn.Embedding(positions, hidden)
            self.types, self.ln = nn.Embedding(types, hidden), nn.LayerNorm(hidden, eps=1e-12)
            self.layers = nn.ModuleList(Layer(hidden, heads, ffn) for _ in range(layers))
            self.pool = nn.Linear(hidden, hidden)

        def forward(self, input_ids, attention_mask, token_type_ids):
            seq = input_ids.size(1)
            positions = torch.arange(seq, dtype=torch.long, device=input_ids.device).unsqueeze(0)
            x = self.ln(self.words(input_ids) + self.pos(positions) + self.types(token_type_ids))
            bias = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * -10000.0
            for layer in self.layers:
                x = layer(x, bias)
            return x, torch.tanh(self.pool(x[:, 0]))

    return torch, ResNet50, Bert


def _seeded(torch, module):
    """Seeded random weights with sane scales (so activations stay in a realistic range)."""
    gen = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.dim() > 1:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=gen) * math.sqrt(1.0 / fan_in))
            elif name.endswith("weight"):  # norm scales
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(0.02 * torch.randn(p.shape, generator=gen))
        for name, b in module.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(0.1 * torch.randn(b.shape, generator=gen))
            elif name.endswith("running_var"):
                b.copy_(1.0 + 0.2 * torch.rand(b.shape, generator=gen))
    return module.eval()


def _export(torch, module, args, path: Path, input_names, output_names, dynamic_axes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, str(tmp), dynamo=False, opset_version=OPSET, input_names=input_names,
                          output_names=output_names, dynamic_axes=dynamic_axes, do_constant_folding=True)
    tmp.replace(path)
    return path


def resnet50(out: Path = OUT) -> Path:
    path = out / "resnet50.onnx"
    if path.exists():
        return path
    torch, ResNet50, _ = _torch_modules()
    torch.manual_seed(SEED)
    model = _seeded(torch, ResNet50())
    return _export(torch, model, (torch.zeros(1, 3, 224, 224),), path, ["input"], ["logits"],
                   {"input": {0: "batch"}, "logits": {0: "batch"}})


def bert(out: Path = OUT) -> Path:
    path = out / "bert.onnx"
    if path.exists():
        return path
    torch, _, Bert = _torch_modules()
    torch.manual_seed(SEED)
    model = _seeded(torch, Bert())
    ids = torch.ones(1, 128, dtype=torch.long)
    dyn = {"batch": 0, "seq": 1}
    axes = {n: {v: k for k, v in dyn.items()} for n in ("input_ids", "attention_mask", "token_type_ids")}
    axes.update({"last_hidden_state": {0: "batch", 1: "seq"}, "pooler_output": {0: "batch"}})
    return _export(torch, model, (ids, torch.ones_like(ids), torch.zeros_like(ids)), path,
                   ["input_ids", "attention_mask", "token_type_ids"], ["last_hidden_state", "pooler_output"], axes)


MODELS = {"resnet50": resnet50, "bert": bert}

if __name__ == "__main__":
    for name in sys.argv[1:] or list(MODELS):
        print(MODELS[name]())
