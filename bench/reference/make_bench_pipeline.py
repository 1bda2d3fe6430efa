"""A mid-size Nucleus-Image pipeline folder for bench/generate.ts: the mid transformer of diffusers_dit.py, the
release-size VAE (random weights) and the released scheduler config.

  make_bench_pipeline.py --transformer DIR/transformer --out DIR
"""

import argparse
import json
import pathlib
import shutil
import sys

import torch
from diffusers import FlowMatchEulerDiscreteScheduler

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "tools" / "reference"))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from diffusers_vae import random_vae  # noqa: E402
from make_pipeline_fixtures import RELEASED_SCHEDULER  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--transformer", required=True)
parser.add_argument("--out", required=True)
args = parser.parse_args()
out = pathlib.Path(args.out)
out.mkdir(parents=True, exist_ok=True)
if not (out / "transformer").exists():
    shutil.copytree(args.transformer, out / "transformer")
random_vae().to(torch.bfloat16).save_pretrained(out / "vae", safe_serialization=True)
FlowMatchEulerDiscreteScheduler.from_config(RELEASED_SCHEDULER).save_pretrained(out / "scheduler")
(out / "model_index.json").write_text(json.dumps({"_class_name": "NucleusMoEImagePipeline"}) + "\n")
print("wrote", out)
