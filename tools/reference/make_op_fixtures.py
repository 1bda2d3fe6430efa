"""Expected values for the MLX bridge ops, computed with NumPy (float64) and PyTorch (CPU).

Writes test/fixtures/ops/ops.safetensors: for every case, its inputs and the reference output under
"<case>/<name>". The Swift tests (swift-engine/Tests/MLXTests) run the same inputs through our bridge and compare.
Run with the reference environment:  .deps/reference-python/bin/python tools/reference/make_op_fixtures.py
"""

import pathlib

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

OUT = pathlib.Path(__file__).resolve().parents[2] / "test" / "fixtures" / "ops" / "ops.safetensors"
rng = np.random.default_rng(20261126)
tensors: dict[str, torch.Tensor] = {}


def put(case: str, **values) -> None:
    for name, value in values.items():
        tensor = value if isinstance(value, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(value))
        if tensor.dtype == torch.float64:
            tensor = tensor.float()
        if tensor.dtype == torch.int64:
            tensor = tensor.int()
        tensors[f"{case}/{name}"] = tensor.contiguous().clone()


def normal(*shape) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


# Elementwise, from float64 math on float32 inputs.
x = normal(4, 7)
y = normal(4, 7)
positive = (np.abs(x) + 0.1).astype(np.float32)
xd, yd, pd = x.astype(np.float64), y.astype(np.float64), positive.astype(np.float64)
put(
    "unary",
    x=x,
    positive=positive,
    negative=-xd,
    exp=np.exp(xd),
    log=np.log(pd),
    sqrt=np.sqrt(pd),
    rsqrt=1 / np.sqrt(pd),
    tanh=np.tanh(xd),
    sigmoid=1 / (1 + np.exp(-xd)),
    silu=xd / (1 + np.exp(-xd)),
    sin=np.sin(xd),
    cos=np.cos(xd),
    abs=np.abs(xd),
    square=xd * xd,
    floor=np.floor(xd),
)
put(
    "binary",
    x=x,
    y=y,
    positive=positive,
    add=xd + yd,
    subtract=xd - yd,
    multiply=xd * yd,
    divide=xd / yd,
    maximum=np.maximum(xd, yd),
    minimum=np.minimum(xd, yd),
    power=np.power(pd, yd),
    clip=np.clip(xd, -0.5, 0.75),
    where=np.where(xd > 0, xd, yd),
)

# Reductions.
r = normal(3, 4, 5)
rd = r.astype(np.float64)
put(
    "reduce",
    x=r,
    sum_axis1=rd.sum(axis=1),
    mean_axes02_keep=rd.mean(axis=(0, 2), keepdims=True),
    max_all=np.array(rd.max()),
    min_axis2=rd.min(axis=2),
    argmax_axis2=np.argmax(rd, axis=2).astype(np.uint32),
    l2_last=np.sqrt((rd * rd).sum(axis=-1)),
)

# Matmuls.
a, b, c = normal(2, 3, 5), normal(5, 4), normal(3, 4)
put("matmul", a=a, b=b, c=c, batched=a.astype(np.float64) @ b.astype(np.float64),
    addmm=2.0 * c.astype(np.float64) + 0.5 * (a[0].astype(np.float64) @ b.astype(np.float64)))

# Gathered matmul: out[i] = a[lhs[i]] @ b[rhs[i]].
ga, gb = normal(4, 3, 8), normal(5, 8, 6)
lhs, rhs = np.array([0, 3, 3, 1, 2], dtype=np.uint32), np.array([4, 0, 2, 2, 1], dtype=np.uint32)
put("gather_mm", a=ga, b=gb, lhs=lhs, rhs=rhs,
    expected=np.stack([ga[l].astype(np.float64) @ gb[k].astype(np.float64) for l, k in zip(lhs, rhs)]))

# Softmax (torch, float32 and bfloat16 input with float32 accumulation).
s = torch.from_numpy(normal(3, 9)) * 4
put("softmax", x=s, expected=torch.softmax(s.double(), dim=-1),
    x_bf16=s.bfloat16(), expected_bf16=torch.softmax(s.bfloat16().float(), dim=-1).bfloat16())

# Norms (torch).
ln_x, ln_w, ln_b = torch.from_numpy(normal(2, 5, 16)), torch.from_numpy(normal(16)), torch.from_numpy(normal(16))
put("layer_norm", x=ln_x, weight=ln_w, bias=ln_b,
    affine=F.layer_norm(ln_x.double(), (16,), ln_w.double(), ln_b.double(), eps=1e-6),
    plain=F.layer_norm(ln_x.double(), (16,), eps=1e-6))
rms_w = torch.from_numpy(normal(16))
put("rms_norm", x=ln_x, weight=rms_w, expected=F.rms_norm(ln_x.double(), (16,), rms_w.double(), eps=1e-6))

# Attention with grouped KV heads (8 query heads, 2 KV heads: query head j uses KV head j // 4).
q, k, v = (torch.from_numpy(normal(2, 8, 5, 16)), torch.from_numpy(normal(2, 2, 7, 16)),
           torch.from_numpy(normal(2, 2, 7, 16)))
kr, vr = k.double().repeat_interleave(4, dim=1), v.double().repeat_interleave(4, dim=1)
scale = 16 ** -0.5
keep = torch.ones(2, 1, 1, 7, dtype=torch.bool)
keep[1, :, :, 5:] = False  # key padding on the second sample
additive = torch.from_numpy(normal(2, 1, 5, 7))
put("sdpa", q=q, k=k, v=v, scale=torch.tensor(scale), keep=keep, additive=additive,
    plain=F.scaled_dot_product_attention(q.double(), kr, vr, scale=scale),
    boolean=F.scaled_dot_product_attention(q.double(), kr, vr, attn_mask=keep, scale=scale),
    additive_out=F.scaled_dot_product_attention(q.double(), kr, vr, attn_mask=additive.double(), scale=scale),
    causal=F.scaled_dot_product_attention(q.double(), kr[:, :, :5], vr[:, :, :5], is_causal=True, scale=scale),
    causal_k=k[:, :, :5], causal_v=v[:, :, :5])

# Convolution: NHWC input and OHWI weight for MLX; torch computes in NCHW / OIHW.
cx, cw = torch.from_numpy(normal(1, 6, 5, 3)), torch.from_numpy(normal(4, 3, 3, 3))
def conv(xn, wn, **kw):
    return F.conv2d(xn.double().permute(0, 3, 1, 2), wn.double().permute(0, 3, 1, 2), **kw).permute(0, 2, 3, 1)
put("conv2d", x=cx, weight=cw, pad1=conv(cx, cw, padding=1), stride2=conv(cx, cw, stride=2),
    dilated=conv(cx, cw, padding=2, dilation=2))

# Nearest 2x upsampling ("nearest-exact" as the VAE uses it).
ux = torch.from_numpy(normal(1, 3, 4, 2))
put("upsample", x=ux,
    expected=F.interpolate(ux.double().permute(0, 3, 1, 2), scale_factor=2.0, mode="nearest-exact").permute(0, 2, 3, 1))

# Indexing (NumPy semantics).
ix = normal(5, 3)
take_idx = np.array([4, 0, 2, 2], dtype=np.int32)
along_idx = np.argsort(ix, axis=0).astype(np.int32)
put_values = normal(5, 3)
scatter_idx = np.array([[0, 1, 1], [3, 3, 0]], dtype=np.int32)
scatter_values = normal(2, 3)
scattered = ix.astype(np.float64).copy()
for row in range(2):
    for col in range(3):
        scattered[scatter_idx[row, col], col] += scatter_values[row, col]
put_result = ix.astype(np.float64).copy()
np.put_along_axis(put_result, along_idx[:2], put_values[:2], axis=0)
# Row scatter: out[rows[i], :] += updates[i, :] (how the MoE layer combines expert outputs).
rows = np.array([2, 0, 2, 4], dtype=np.int32)
row_updates = normal(4, 3)
row_scattered = ix.astype(np.float64).copy()
np.add.at(row_scattered, rows, row_updates)
put("indexing", x=ix, take_idx=take_idx, take=ix[take_idx], along_idx=along_idx,
    take_along=np.take_along_axis(ix, along_idx, axis=0), put_values=put_values[:2], put_along=put_result,
    scatter_idx=scatter_idx, scatter_values=scatter_values, scatter_add_axis=scattered,
    rows=rows, row_updates=row_updates, row_scatter=row_scattered,
    argsort_axis1=np.argsort(ix, axis=1, kind="stable").astype(np.uint32))

# Shapes.
sx = normal(2, 3, 4)
put("shape", x=sx, transpose_120=sx.transpose(1, 2, 0), reverse=sx.transpose(), slice=sx[:, 1:3, ::2],
    repeat_axis1=np.repeat(sx, 2, axis=1), concat_axis2=np.concatenate([sx, sx * 2], axis=2),
    broadcast=np.broadcast_to(sx[:, :1, :], (2, 5, 4)))

# Casts: bfloat16 / float16 rounding (round to nearest even), float -> int truncation.
cast_x = torch.from_numpy(normal(64) * 100)
put("cast", x=cast_x, bf16=cast_x.bfloat16(), f16=cast_x.half(), i32=cast_x.int(),
    from_bf16=cast_x.bfloat16().float())

OUT.parent.mkdir(parents=True, exist_ok=True)
save_file(tensors, str(OUT), metadata={"generator": "tools/reference/make_op_fixtures.py",
                                      "torch": torch.__version__, "numpy": np.__version__})
print(f"wrote {len(tensors)} tensors to {OUT} ({OUT.stat().st_size} bytes)")
