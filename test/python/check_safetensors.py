"""Reads files nucleus-image writes with Python's `safetensors` (NumPy; ml_dtypes for bfloat16), as other tools would.

Usage:
  check_safetensors.py describe FILE...
      Prints {file: {"metadata": {...}, "tensors": {key: {"dtype", "shape", "sum"}}}} as JSON.
  check_safetensors.py quantized SOURCE_COMPONENT TARGET_COMPONENT
      Checks a component folder written by `nucleus-image convert` against its source folder: every shard loads;
      every tensor stored quantized is MLX's affine layout as the README describes it (packed uint32 `K` (or
      `K.weight`) [..., out, in * bits / 32], the first value in the lowest bits; `.scales` and `.biases`
      [..., out, in / group]; expert stacks [E, in, out] stored transposed as [E, out, in]) and dequantizes
      (w = scale * q + bias) to within 1.5 quantization steps of the source weight (plus the rounding of bf16 scales
      and biases); every other tensor equals the source. Prints a JSON summary; exits 1 when anything is off.
"""

import json
import pathlib
import sys

import ml_dtypes  # (registers bfloat16 with NumPy, so safetensors can hand bf16 tensors to NumPy)
import numpy as np
from safetensors.numpy import load_file


def load_folder(folder: pathlib.Path) -> dict:
    tensors = {}
    for shard in sorted(folder.glob("*.safetensors")):
        tensors.update(load_file(str(shard)))
    return tensors


def describe(paths: list[str]) -> dict:
    from safetensors import safe_open

    result = {}
    for path in paths:
        with safe_open(path, framework="np") as handle:
            metadata = handle.metadata() or {}
        tensors = load_file(path)
        result[path] = {"metadata": metadata, "tensors": {
            key: {"dtype": str(value.dtype), "shape": list(value.shape), "sum": float(value.astype(np.float64).sum())}
            for key, value in tensors.items()}}
    return result


def unpack(packed: np.ndarray, bits: int) -> np.ndarray:
    """uint32 words -> integer levels, `32 / bits` per word, the first in the lowest bits."""
    per_word = 32 // bits
    shifts = (np.arange(per_word, dtype=np.uint32) * bits).astype(np.uint32)
    levels = (packed[..., None] >> shifts) & np.uint32((1 << bits) - 1)
    return levels.reshape(*packed.shape[:-1], packed.shape[-1] * per_word)


def quantized(source_dir: str, target_dir: str) -> dict:
    source_folder, target_folder = pathlib.Path(source_dir), pathlib.Path(target_dir)
    record = json.loads((target_folder / "config.json").read_text()).get("quantization")
    source, target = load_folder(source_folder), load_folder(target_folder)
    problems, checked, worst = [], [], 0.0
    quantized_bases = {key[: -len(".scales")] for key in target if key.endswith(".scales")}
    for key, stored in target.items():
        base = key[: -len(".weight")] if key.endswith(".weight") else key
        if key.endswith((".scales", ".biases")) and key.rsplit(".", 1)[0] in quantized_bases:
            continue
        if base not in quantized_bases:
            if key not in source or not np.array_equal(stored.view(np.uint8), source[key].view(np.uint8)):
                problems.append(f"{key}: not the source tensor")
            continue
        scales, biases = target[base + ".scales"], target[base + ".biases"]
        kind = "experts" if stored.ndim == 3 else "linear"
        spec = (record or {}).get(kind)
        if stored.dtype != np.uint32 or spec is None:
            problems.append(f"{key}: {stored.dtype}, quantization record {record}")
            continue
        bits, group = spec["bits"], spec["group_size"]
        levels = unpack(stored, bits).astype(np.float32)
        inputs = levels.shape[-1]
        if scales.shape != (*stored.shape[:-1], inputs // group) or biases.shape != scales.shape:
            problems.append(f"{key}: scales {scales.shape} / biases {biases.shape} for {stored.shape} at {bits} bits")
            continue
        step = np.repeat(scales.astype(np.float32), group, axis=-1)
        bias = np.repeat(biases.astype(np.float32), group, axis=-1)
        dequantized = step * levels + bias
        original = source[key].astype(np.float32)
        if kind == "experts":
            original = original.transpose(0, 2, 1)  # checkpoint [E, in, out] -> stored [E, out, in]
        if original.shape != dequantized.shape:
            problems.append(f"{key}: dequantized {dequantized.shape}, source {original.shape}")
            continue
        # Rounding to the nearest level errs by half a step, snapping the group's edge by up to one more; scales and
        # biases stored in bf16 are rounded to 2^-9 relative besides.
        rounding = 2.0 ** -9 if scales.dtype == ml_dtypes.bfloat16 else 2.0 ** -24
        allowed = 1.5 * np.abs(step) + rounding * (np.abs(step * levels) + np.abs(bias)) + 1e-12
        ratio = float((np.abs(dequantized - original) / allowed).max())
        worst = max(worst, ratio)
        if ratio > 1.01:
            problems.append(f"{key}: an element is {ratio:.3f} x its bound from the source weight")
        checked.append(key)
    return {"record": record, "checked": sorted(checked), "worst_step_ratio": worst, "problems": problems,
            "tensors": len(target)}


def main() -> None:
    command, arguments = sys.argv[1], sys.argv[2:]
    if command == "describe":
        print(json.dumps(describe(arguments)))
    elif command == "quantized":
        summary = quantized(*arguments)
        print(json.dumps(summary))
        sys.exit(1 if summary["problems"] else 0)
    else:
        sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main()
