"""A tiny component checkpoint saved twice by Hugging Face's own writer: sharded (with an index) and as a single
file, like the Nucleus-Image release's folders, plus a PyTorch forward pass of the layers it holds.

Writes test/fixtures/checkpoints/tiny-mlp/{sharded,single}/ and test/fixtures/checkpoints/tiny-mlp/forward.safetensors.
Run with the reference environment:  .deps/reference-python/bin/python tools/reference/make_checkpoint_fixtures.py
"""

import json
import pathlib
import shutil

import torch
import torch.nn.functional as F
from huggingface_hub import save_torch_state_dict
from safetensors.torch import save_file

ROOT = pathlib.Path(__file__).resolve().parents[2] / "test" / "fixtures" / "checkpoints" / "tiny-mlp"
torch.manual_seed(20261126)

config = {"_class_name": "TinyMLP", "in_features": 128, "hidden": 64, "out_features": 32, "experts": 4,
          "expert_out": 96, "rms_norm_eps": 1e-6}
state = {
    "layers.0.weight": torch.randn(64, 128) * 0.1,
    "layers.0.bias": torch.randn(64) * 0.1,
    "layers.1.weight": torch.randn(32, 64) * 0.1,
    "norm.weight": torch.rand(32) + 0.5,
    "experts.gate_up_proj": torch.randn(4, 64, 96) * 0.1,
}
state = {key: value.bfloat16() for key, value in state.items()}  # stored in bf16 like the release

shutil.rmtree(ROOT, ignore_errors=True)
for layout, shard_size in (("sharded", 20_000), ("single", "10GB")):
    folder = ROOT / layout
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    save_torch_state_dict({k: v.clone() for k, v in state.items()}, folder, max_shard_size=shard_size,
                          filename_pattern="diffusion_pytorch_model{suffix}.safetensors")

# The forward pass in float32 from the stored (bf16) weights: y = rms_norm(layer1(silu(layer0(x)))).
w = {key: value.float() for key, value in state.items()}
x = torch.randn(3, 128)
h = F.silu(F.linear(x, w["layers.0.weight"], w["layers.0.bias"]))
y = F.rms_norm(F.linear(h, w["layers.1.weight"]), (32,), w["norm.weight"], eps=1e-6)
expert_x = torch.randn(4, 5, 64)
expert_y = torch.matmul(expert_x, w["experts.gate_up_proj"])  # expert e multiplies its own 5 rows
save_file({"x": x, "hidden": h, "y": y, "expert_x": expert_x, "expert_y": expert_y}, str(ROOT / "forward.safetensors"))
print("wrote", sorted(str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if p.is_file()))
