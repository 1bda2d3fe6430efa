"""transformers' side of bench/text.ts: the Qwen3-VL text encoder and the Qwen tokenizer on the CPU.

  transformers_text.py make --out DIR                         a mid-size random Qwen3-VL (real vocabulary) in DIR/text_encoder
  transformers_text.py encoder --model DIR --tokens N --repeats R
      the pipeline's call (all layers, hidden states, logits) in float32; prints {"seconds", "max_rss_bytes"}
  transformers_text.py tokenizer --processor DIR --prompts FILE --repeats R
      tokenizers' encode of each string and the pipeline's template + tokenize per prompt; prints seconds and tokens
"""

import argparse
import json
import pathlib
import resource
import statistics
import sys
import time

import torch
from tokenizers import Tokenizer

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "tools" / "reference"))
from make_text_fixtures import SYSTEM, randomized, tiny_encoder_config  # noqa: E402
from transformers import PreTrainedTokenizerFast, Qwen3VLForConditionalGeneration  # noqa: E402

# Hidden 1024 and 16 layers with Qwen's 151,936-token vocabulary: about a tenth of the release's 8B text model.
MID = dict(vocab=151936, hidden=1024, layers=16, heads=16, kv_heads=8, head_dim=64, intermediate=3072)


def make(args) -> None:
    model = randomized(Qwen3VLForConditionalGeneration(tiny_encoder_config(**MID)), 5)
    model.to(torch.bfloat16).save_pretrained(pathlib.Path(args.out) / "text_encoder", max_shard_size="500MB")


def encoder(args) -> None:
    model = Qwen3VLForConditionalGeneration.from_pretrained(pathlib.Path(args.model) / "text_encoder", dtype=torch.float32)
    model.eval()
    times = []
    with torch.inference_mode():
        for index in range(args.repeats + 1):
            ids = (torch.arange(args.tokens) * 7919 + index * 104729) % 150000
            inputs = dict(input_ids=ids[None], attention_mask=torch.ones(1, args.tokens, dtype=torch.long))
            started = time.perf_counter()
            model(**inputs, use_cache=False, return_dict=True, output_hidden_states=True).hidden_states[-8]
            if index > 0:  # the first run warms up
                times.append(time.perf_counter() - started)
    print(json.dumps({"seconds": statistics.median(times),
                      "max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))


def tokenizer(args) -> None:
    processor = pathlib.Path(args.processor)
    fast = PreTrainedTokenizerFast(tokenizer_file=str(processor / "tokenizer.json"), pad_token="<|endoftext|>")
    fast.chat_template = json.loads((processor / "chat_template.json").read_text())["chat_template"]
    # A tokenizer of its own: calling `fast` with padding leaves padding switched on in fast.backend_tokenizer.
    raw = Tokenizer.from_file(str(processor / "tokenizer.json"))
    strings = json.loads(pathlib.Path(args.prompts).read_text())
    encode_times, prepare_times, tokens = [], [], 0
    for _ in range(args.repeats):
        started = time.perf_counter()
        tokens = sum(len(raw.encode(text, add_special_tokens=False).ids) for text in strings)
        encode_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        for text in strings:
            messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": [{"type": "text", "text": text}]}]
            rendered = fast.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            fast([rendered], padding="longest", pad_to_multiple_of=8, max_length=1024, truncation=True)
        prepare_times.append(time.perf_counter() - started)
    print(json.dumps({"encode_seconds": statistics.median(encode_times), "prepare_seconds": statistics.median(prepare_times),
                      "tokens": tokens}))


parser = argparse.ArgumentParser()
sub = parser.add_subparsers(dest="command", required=True)
sub.add_parser("make").add_argument("--out", required=True)
encoder_parser = sub.add_parser("encoder")
encoder_parser.add_argument("--model", required=True)
encoder_parser.add_argument("--tokens", type=int, default=100)
encoder_parser.add_argument("--repeats", type=int, default=3)
tokenizer_parser = sub.add_parser("tokenizer")
tokenizer_parser.add_argument("--processor", required=True)
tokenizer_parser.add_argument("--prompts", required=True)
tokenizer_parser.add_argument("--repeats", type=int, default=5)
arguments = parser.parse_args()
{"make": make, "encoder": encoder, "tokenizer": tokenizer}[arguments.command](arguments)
