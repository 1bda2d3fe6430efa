"""A minimal Nucleus-Image sampler in Python over the engine's gRPC API: text (or embeddings) in, PNG out.

Start an engine first (it prints a JSON ready line with its address):
    npx nucleus-image engine --port 50051 --token "$TOKEN"
then:
    python minimal_sampler.py --address 127.0.0.1:50051 --token "$TOKEN" --model /models/Nucleus-Image \
        --prompt "A red apple on a white table" --seed 42 --steps 50 --cfg 4 -o apple.png

It calls LoadModel, EncodeText (or ImportEmbedding for diffusers' prompt_embeds), Denoise once per step with
both CFG branches as a batch, and Decode. Needs grpcio, grpcio-tools, numpy, tokenizers and jinja2; the stubs are
generated from proto/ at run time. Only the static-shift and dynamic-shift schedules are implemented here.
"""

import argparse
import json
import math
import pathlib
import struct
import sys
import tempfile
import zlib

import grpc
import jinja2
import numpy as np
from grpc_tools import protoc
from tokenizers import Tokenizer

# proto/ of the nucleus-image package (this file lives in its test/python/); --proto points elsewhere.
PROTO_ROOT = pathlib.Path(__file__).resolve().parents[2] / "proto"
SYSTEM_PROMPT = (
    "You are an image generation assistant. Follow the user's prompt literally. Pay careful attention to spatial "
    "layout: objects described as on the left must appear on the left, on the right on the right. Match exact object "
    "counts and assign colors to the correct objects."
)


def load_stubs(proto_root, out_dir):
    include = pathlib.Path(protoc.__file__).parent / "_proto"
    args = ["protoc", f"-I{proto_root}", f"-I{include}", f"--python_out={out_dir}", f"--grpc_python_out={out_dir}"]
    if protoc.main(args + ["nucleus/engine/v1/engine.proto"]) != 0:
        raise SystemExit("grpc_tools.protoc failed")
    sys.path.insert(0, out_dir)
    from nucleus.engine.v1 import engine_pb2, engine_pb2_grpc

    return engine_pb2, engine_pb2_grpc


def tokenize(model_dir, prompt):
    """The pipeline's prompt tokens: chat template with the system prompt, no special tokens, at most 1024
    tokens, padded to a multiple of 8 with <|endoftext|>."""
    processor = pathlib.Path(model_dir) / "processor"
    template = json.loads((processor / "chat_template.json").read_text())["chat_template"]
    messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": [{"type": "text", "text": prompt}]}]
    environment = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)  # as transformers renders templates
    text = environment.from_string(template).render(messages=messages, add_generation_prompt=True)
    tokenizer = Tokenizer.from_file(str(processor / "tokenizer.json"))
    ids = tokenizer.encode(text, add_special_tokens=False).ids[:1024]
    padding = -len(ids) % 8
    return ids + [tokenizer.token_to_id("<|endoftext|>")] * padding, [1] * len(ids) + [0] * padding


def read_safetensors(path):
    data = pathlib.Path(path).read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    dtypes = {"F32": np.float32, "I64": np.int64, "I32": np.int32, "F16": np.float16}
    tensors = {}
    for name, entry in header.items():
        if name != "__metadata__":
            begin, end = entry["data_offsets"]
            raw = data[8 + length + begin : 8 + length + end]
            tensors[name] = np.frombuffer(raw, dtypes[entry["dtype"]]).reshape(entry["shape"])
    return tensors


def sigma_schedule(config, steps, image_tokens):
    """FlowMatchEulerDiscreteScheduler's sigmas as the pipeline sets them (static or dynamic shift)."""
    if config.get("use_karras_sigmas") or config.get("use_exponential_sigmas") or config.get("use_beta_sigmas") or config.get("shift_terminal"):
        raise SystemExit("this minimal sampler implements only the static and dynamic shift schedules")
    sigmas = np.linspace(1.0, 1.0 / steps, steps).astype(np.float32)
    if config.get("use_dynamic_shifting"):
        base, top = config.get("base_image_seq_len", 256), config.get("max_image_seq_len", 4096)
        slope = (config.get("max_shift", 1.15) - config.get("base_shift", 0.5)) / (top - base)
        mu = config.get("base_shift", 0.5) + slope * (image_tokens - base)
        weight = np.float32(mu if config.get("time_shift_type") == "linear" else math.exp(mu))
        sigmas = weight / (weight + (1 / sigmas - 1))
    else:
        shift = np.float32(config.get("shift", 1.0))
        sigmas = shift * sigmas / (1 + (shift - 1) * sigmas)
    return np.append(sigmas.astype(np.float32), np.float32(0))


def to_tensor(pb, array):
    array = np.ascontiguousarray(array, dtype=np.float32)
    return pb.Tensor(dtype=pb.DTYPE_FLOAT32, shape=list(array.shape), data=array.tobytes())


def from_tensor(pb, tensor):
    if tensor.dtype == pb.DTYPE_BFLOAT16:
        bits = np.frombuffer(tensor.data, np.uint16).astype(np.uint32) << 16
        return bits.view(np.float32).reshape(tensor.shape)
    return np.frombuffer(tensor.data, np.float32).reshape(tensor.shape)


def write_png(path, pixels):
    height, width, _ = pixels.shape
    rows = b"".join(b"\x00" + pixels[y].tobytes() for y in range(height))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    pathlib.Path(path).write_bytes(png)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", required=True, help="the engine's address from its ready line")
    parser.add_argument("--token", help="the engine's token, if it has one")
    parser.add_argument("--model", required=True, help="model folder in the release layout")
    parser.add_argument("--prompt", help="text prompt (tokenized here, encoded by the engine: EncodeText)")
    parser.add_argument("--prompt-embeds", help="instead: diffusers' prompt_embeds in safetensors (ImportEmbedding)")
    parser.add_argument("--negative-embeds", help="with --prompt-embeds: the negative prompt's embeddings")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--latents", help="initial packed latents (safetensors, key latents) instead of --seed")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--cfg", type=float, default=4.0)
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--height", type=int, default=1024)
    parser.add_argument("-o", "--output", required=True, help="PNG to write")
    parser.add_argument("--output-latents", help="also save the final packed latents (.npy)")
    parser.add_argument("--proto", default=str(PROTO_ROOT), help="the proto/ folder of nucleus-image")
    args = parser.parse_args()

    model = pathlib.Path(args.model)
    transformer = json.loads((model / "transformer" / "config.json").read_text())
    scheduler = json.loads((model / "scheduler" / "scheduler_config.json").read_text())
    channels = transformer["in_channels"]  # packed: 4 latent channels per 2×2 patch
    grid_h, grid_w = args.height // 16, args.width // 16
    metadata = [("authorization", f"Bearer {args.token}")] if args.token else None

    with tempfile.TemporaryDirectory() as stub_dir, grpc.insecure_channel(
        args.address, options=[("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)]
    ) as channel:
        pb, pb_grpc = load_stubs(args.proto, stub_dir)
        engine = pb_grpc.EngineStub(channel)

        # LoadModel streams progress events, then a summary.
        for event in engine.LoadModel(pb.LoadModelRequest(model_dir=str(model.resolve())), metadata=metadata):
            if event.HasField("summary"):
                dtypes = {c.name: c.dtype for c in event.summary.components}
                print(f"loaded {sorted(dtypes)} in {event.summary.load_seconds:.1f} s", file=sys.stderr)

        # The two CFG branches: the prompt and the empty negative prompt (or embeddings from diffusers).
        if args.prompt is not None:
            handles = []
            for text in [args.prompt, ""]:
                ids, mask = tokenize(model, text)
                request = pb.EncodeTextRequest(token_ids=ids, attention_mask=mask)
                handles.append(engine.EncodeText(request, metadata=metadata).embedding.id)
        else:
            handles = []
            for path in [args.prompt_embeds, args.negative_embeds]:
                tensors = read_safetensors(path)
                embedding = tensors["prompt_embeds"][0]
                mask = tensors["prompt_embeds_mask"][0].astype(np.float32)
                request = pb.ImportEmbeddingRequest(embedding=to_tensor(pb, embedding), mask=to_tensor(pb, mask))
                handles.append(engine.ImportEmbedding(request, metadata=metadata).embedding.id)
        if args.cfg <= 1:
            handles = handles[:1]

        # NumPy's seeded noise [1, C/4, H/8, W/8], packed into 2×2 patches: [S, C].
        if args.latents:
            latents = read_safetensors(args.latents)["latents"].reshape(grid_h * grid_w, channels).astype(np.float32)
        else:
            noise = np.random.RandomState(args.seed).standard_normal((1, channels // 4, 2 * grid_h, 2 * grid_w)).astype(np.float32)
            packed = noise.reshape(1, channels // 4, grid_h, 2, grid_w, 2).transpose(0, 2, 4, 1, 3, 5)
            latents = packed.reshape(grid_h * grid_w, channels)

        sigmas = sigma_schedule(scheduler, args.steps, grid_h * grid_w)
        for step in range(args.steps):
            timestep = np.float32(np.float32(sigmas[step] * 1000) / 1000)
            request = pb.DenoiseRequest(
                latents=to_tensor(pb, latents), grid_height=grid_h, grid_width=grid_w, timestep=float(timestep), conditioning=handles
            )
            predictions = [from_tensor(pb, t) for t in engine.Denoise(request, metadata=metadata).predictions]
            prediction = predictions[0]
            if len(predictions) == 2:  # CFG, then rescale each token to the conditional prediction's norm
                cond, uncond = predictions
                combined = uncond + np.float32(args.cfg) * (cond - uncond)
                ratio = np.linalg.norm(cond, axis=-1, keepdims=True) / np.linalg.norm(combined, axis=-1, keepdims=True)
                prediction = combined * ratio.astype(np.float32)
            # The model predicts the negated velocity: x ← x − (σ_next − σ) · prediction.
            latents = (latents + (sigmas[step + 1] - sigmas[step]) * -prediction).astype(np.float32)
            print(f"step {step + 1}/{args.steps}", file=sys.stderr)

        engine.Release(pb.ReleaseRequest(handles=handles), metadata=metadata)
        image = engine.Decode(pb.DecodeRequest(latents=to_tensor(pb, latents), grid_height=grid_h, grid_width=grid_w), metadata=metadata).image
        write_png(args.output, np.frombuffer(image.data, np.uint8).reshape(image.shape))
        if args.output_latents:
            np.save(args.output_latents, latents)
        print(f"wrote {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
