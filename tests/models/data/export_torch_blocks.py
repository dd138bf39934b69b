"""How tests/models/data/torch_block_*.onnx were made (torch is not in trtlab's venv; this ran on a machine with
torch 2.11): a small pre-LN encoder block with nn.LayerNorm, nn.GELU() (erf) or nn.GELU("tanh"), exported by
torch.onnx.export at opset 16 (below 17 torch decomposes LayerNorm op by op) and 17.

    python3 tests/models/data/export_torch_blocks.py OUT_DIR
"""

import sys

import torch
from torch import nn


class Block(nn.Module):
    def __init__(self, hidden=16, heads=2, approximate="none"):
        super().__init__()
        self.ln1 = nn.LayerNorm(hidden)
        self.attn = nn.MultiheadAttention(hidden, heads, batch_first=True)
        self.ln2 = nn.LayerNorm(hidden)
        self.fc1 = nn.Linear(hidden, 4 * hidden)
        self.act = nn.GELU(approximate=approximate)
        self.fc2 = nn.Linear(4 * hidden, hidden)

    def forward(self, x):
        h = self.ln1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.fc2(self.act(self.fc1(self.ln2(x))))


def main(out):
    torch.manual_seed(0)
    x = torch.randn(1, 8, 16)
    for approximate in ("none", "tanh"):
        for opset in (16, 17):
            block = Block(approximate=approximate).eval()
            name = f"{out}/torch_block_{'erf' if approximate == 'none' else 'tanh'}_op{opset}.onnx"
            kwargs = {"dynamo": False} if "dynamo" in torch.onnx.export.__code__.co_varnames else {}
            torch.onnx.export(block, (x,), name, opset_version=opset, input_names=["x"], output_names=["y"],
                              do_constant_folding=True, **kwargs)
            print("wrote", name, torch.__version__)


if __name__ == "__main__":
    main(sys.argv[1])
