"""The release's on-disk layout as data: every component's config.json and every tensor's key, shape and dtype.

The configs are the released ones (restated from model-spec.md §1, §4.7, §5.1, §6.1); the key lists come from
instantiating diffusers' and transformers' classes with those configs on the meta device (no weights, no memory),
and the totals are checked against the release's index files (transformer 33,845,358,592 bytes, text encoder
17,534,247,392 bytes). tools/full-checkpoint/ writes random checkpoints of this layout without PyTorch.

Run with the reference environment:
  .deps/reference-python/bin/python tools/reference/make_release_layout.py
"""

import json
import pathlib

import torch
from diffusers import AutoencoderKLQwenImage, NucleusMoEImageTransformer2DModel
from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration

OUT = pathlib.Path(__file__).resolve().parents[1] / "full-checkpoint" / "release-layout.json"

TRANSFORMER = {
    "_class_name": "NucleusMoEImageTransformer2DModel", "_diffusers_version": "0.38.0.dev0", "patch_size": 2,
    "in_channels": 64, "out_channels": 16, "num_layers": 32, "attention_head_dim": 128, "num_attention_heads": 16,
    "num_key_value_heads": 4, "joint_attention_dim": 4096, "axes_dims_rope": [16, 56, 56], "mlp_ratio": 4.0,
    "moe_enabled": True, "dense_moe_strategy": "leave_first_three_blocks_dense", "num_experts": 64,
    "moe_intermediate_dim": 1344, "capacity_factors": [0.0, 0.0, 0.0, 4.0, 4.0] + [2.0] * 27, "use_sigmoid": False,
    "route_scale": 2.5, "use_grouped_mm": True,
}
VAE = {
    "_class_name": "AutoencoderKLQwenImage", "_diffusers_version": "0.36.0", "base_dim": 96, "z_dim": 16,
    "dim_mult": [1, 2, 4, 4], "num_res_blocks": 2, "attn_scales": [], "temperal_downsample": [False, True, True],
    "dropout": 0.0, "input_channels": 3,
    "latents_mean": [-0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508, 0.4134, -0.0715, 0.5517,
                     -0.3632, -0.1922, -0.9497, 0.2503, -0.2921],
    "latents_std": [2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743, 3.2687, 2.1526, 2.8652, 1.5579,
                    1.6382, 1.1253, 2.8251, 1.9160],
}
TEXT = {
    "architectures": ["Qwen3VLForConditionalGeneration"], "model_type": "qwen3_vl", "image_token_id": 151655,
    "video_token_id": 151656, "vision_start_token_id": 151652, "vision_end_token_id": 151653,
    "tie_word_embeddings": False, "dtype": "bfloat16",
    "text_config": {
        "model_type": "qwen3_vl_text", "vocab_size": 151936, "hidden_size": 4096, "intermediate_size": 12288,
        "num_hidden_layers": 36, "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128,
        "hidden_act": "silu", "rms_norm_eps": 1e-6, "max_position_embeddings": 262144, "attention_bias": False,
        "attention_dropout": 0.0, "bos_token_id": 151643, "eos_token_id": 151645, "tie_word_embeddings": False,
        "dtype": "bfloat16",
        "rope_parameters": {"rope_type": "default", "rope_theta": 5000000.0, "mrope_section": [24, 20, 20],
                            "mrope_interleaved": True},
    },
    "vision_config": {
        "model_type": "qwen3_vl", "depth": 27, "hidden_size": 1152, "num_heads": 16, "intermediate_size": 4304,
        "patch_size": 16, "temporal_patch_size": 2, "spatial_merge_size": 2, "out_hidden_size": 4096,
        "in_channels": 3, "hidden_act": "gelu_pytorch_tanh", "num_position_embeddings": 2304,
        "deepstack_visual_indexes": [8, 16, 24],
    },
}
SCHEDULER = {
    "_class_name": "FlowMatchEulerDiscreteScheduler", "_diffusers_version": "0.36.0", "num_train_timesteps": 1000,
    "shift": 1.0, "use_dynamic_shifting": False, "base_shift": 0.5, "max_shift": 1.15, "base_image_seq_len": 256,
    "max_image_seq_len": 4096, "time_shift_type": "exponential", "shift_terminal": None, "invert_sigmas": False,
    "stochastic_sampling": False, "use_karras_sigmas": False, "use_exponential_sigmas": False,
    "use_beta_sigmas": False,
}
MODEL_INDEX = {
    "_class_name": "NucleusMoEImagePipeline", "_diffusers_version": "0.36.0",
    "processor": ["transformers", "Qwen3VLProcessor"], "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"],
    "text_encoder": ["transformers", "Qwen3VLForConditionalGeneration"],
    "transformer": ["diffusers", "NucleusMoEImageTransformer2DModel"], "vae": ["diffusers", "AutoencoderKLQwenImage"],
}
TOTALS = {"transformer": 33_845_358_592, "text_encoder": 17_534_247_392}


def tensors(module):
    return [[key, list(value.shape), "BF16"] for key, value in module.state_dict().items()]


def main():
    with torch.device("meta"):
        transformer = NucleusMoEImageTransformer2DModel.from_config(
            {k: v for k, v in TRANSFORMER.items() if not k.startswith("_")})
        vae = AutoencoderKLQwenImage.from_config({k: v for k, v in VAE.items() if not k.startswith("_")})
        text = Qwen3VLForConditionalGeneration(Qwen3VLConfig(**TEXT))
    components = {"transformer": tensors(transformer), "vae": tensors(vae), "text_encoder": tensors(text)}
    for name, expected in TOTALS.items():
        total = sum(2 * torch.Size(shape).numel() for _, shape, _ in components[name])
        assert total == expected, f"{name}: {total} bytes, the release's index says {expected}"
    layout = {
        "model_index": MODEL_INDEX,
        "configs": {"transformer": TRANSFORMER, "vae": VAE, "text_encoder": TEXT, "scheduler": SCHEDULER},
        # The release's file names and shard counts.
        "files": {
            "transformer": {"stem": "diffusion_pytorch_model", "shards": 7},
            "text_encoder": {"stem": "model", "shards": 4},
            "vae": {"stem": "diffusion_pytorch_model", "shards": 1},
        },
        "tensors": components,
    }
    OUT.write_text(json.dumps(layout, indent=1) + "\n")
    print(f"wrote {OUT}: " + ", ".join(f"{k} {len(v)} tensors" for k, v in components.items()))


if __name__ == "__main__":
    main()
