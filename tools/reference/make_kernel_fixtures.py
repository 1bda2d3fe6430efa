"""Expected values for the engine's own CPU kernels (swift-engine/Sources/CMLXBridge/kernel_*), from NumPy float64.

Writes test/fixtures/kernels/attention.safetensors and test/fixtures/kernels/ops.safetensors.

Attention: each case holds q [B, Hq, L, D], k [B, Hkv, S, D],
v [B, Hkv, S, Dv], the scale, optionally a mask, and the expected output "<case>/out". The sizes are chosen to hit
the kernels' edges: odd lengths (partial tiles, a partial last key panel), grouped-query heads, head sizes that do
not fit the AVX-512 or AVX2 vector width (so the narrower variants take over), rows and keys spanning several
blocks and panels, every mask kind, and a row whose boolean mask hides every key.

The math is written out here (scores, masking, softmax, weighted sum) in float64 and checked against PyTorch's
scaled_dot_product_attention wherever the two define the same thing. Mask semantics are MLX's: a false boolean
entry sets the score to the lowest float32, so a row with no visible key averages all values (PyTorch gives NaN
there); "causal" lets query i see keys j <= i + S - L.
Ops: matrix products in every layout the matmul kernel meets (a Linear layer's x @ Wᵀ with and without bias,
batched and broadcast batches, a transposed left operand, one row against many columns, sizes that split into
several blocks), sigmoid / silu over values from −100 to 100 in lengths that leave partial vectors, arithmetic
with every broadcast pattern the models use, layer / RMS norms with and without weights, gathers (rows with
repeats, a permutation of the last axis, negative indices), scatter-adds of rows with repeated indices, and the
rotary embedding of interleaved pairs, convolutions (padding, stride, dilation, 1×1, several pixel blocks),
nearest 2× upsampling and L2 norms of rows.
Run with the reference environment:  .deps/reference-python/bin/python tools/reference/make_kernel_fixtures.py
"""

import pathlib

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.numpy import save_file

FOLDER = pathlib.Path(__file__).resolve().parents[2] / "test" / "fixtures" / "kernels"
rng = np.random.default_rng(20261213)
tensors: dict[str, np.ndarray] = {}
LOWEST = float(np.finfo(np.float32).min)


def normal(*shape) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


def attention(q, k, v, scale, mask=None, causal=False) -> np.ndarray:
    """softmax((q·scale)·kᵀ + mask)·v in float64, kv heads repeated for grouped queries."""
    groups = q.shape[1] // k.shape[1]
    kd = np.repeat(k.astype(np.float64), groups, axis=1)
    vd = np.repeat(v.astype(np.float64), groups, axis=1)
    scores = (q.astype(np.float64) * scale) @ np.swapaxes(kd, -1, -2)
    length, keys = q.shape[2], k.shape[2]
    if causal:
        visible = np.arange(keys)[None, :] <= np.arange(length)[:, None] + keys - length
        scores = np.where(visible, scores, LOWEST)
    if mask is not None:
        scores = np.where(mask, scores, LOWEST) if mask.dtype == np.bool_ else scores + mask.astype(np.float64)
    scores = scores - scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores)
    weights /= weights.sum(axis=-1, keepdims=True)
    return weights @ vd


def torch_attention(q, k, v, scale, mask=None, causal=False) -> np.ndarray:
    groups = q.shape[1] // k.shape[1]
    t = lambda x: torch.from_numpy(x).double()
    attn_mask = None if mask is None else (torch.from_numpy(mask) if mask.dtype == np.bool_ else t(mask))
    if causal and q.shape[2] != k.shape[2]:  # torch's is_causal aligns the top-left corner: build MLX's explicitly
        attn_mask = torch.from_numpy(np.arange(k.shape[2])[None, :] <= np.arange(q.shape[2])[:, None] + k.shape[2] - q.shape[2])
        causal = False
    out = F.scaled_dot_product_attention(t(q), t(k).repeat_interleave(groups, 1), t(v).repeat_interleave(groups, 1),
                                         attn_mask=attn_mask, is_causal=causal, scale=scale)
    return out.numpy()


def case(name, batch, q_heads, kv_heads, length, keys, dim, value_dim=None, mask=None, causal=False,
         torch_check=True, strided=False) -> None:
    q = normal(batch, q_heads, length, dim)
    k = normal(batch, kv_heads, keys, dim)
    v = normal(batch, kv_heads, keys, value_dim or dim)
    scale = dim ** -0.5
    mask_array = mask(batch, q_heads, length, keys) if mask else None
    out = attention(q, k, v, scale, mask_array, causal)
    if torch_check:
        np.testing.assert_allclose(out, torch_attention(q, k, v, scale, mask_array, causal), rtol=1e-9, atol=1e-12)
    values = dict(q=q, k=k, v=v, scale=np.array(scale, dtype=np.float32), out=out.astype(np.float32))
    if mask_array is not None:
        values["mask"] = mask_array
    if strided:  # the same queries laid out [B, L, Hq, D], as the models make them before transposing
        values["q_blhd"] = np.ascontiguousarray(np.swapaxes(q, 1, 2))
    for key, value in values.items():
        tensors[f"{name}/{key}"] = np.ascontiguousarray(value)


def key_padding(batch, heads, length, keys):
    keep = np.ones((batch, 1, 1, keys), dtype=np.bool_)
    keep[-1, :, :, keys - keys // 3:] = False  # the last sample's text is padded
    return keep


def random_keep(batch, heads, length, keys):
    keep = rng.random((batch, heads, length, keys)) < 0.7
    keep[..., 0] = True  # every row sees at least one key
    return keep


def additive(batch, heads, length, keys):
    return (rng.standard_normal((1, 1, length, keys)) * 2).astype(np.float32)


def one_row_hidden(batch, heads, length, keys):
    keep = random_keep(batch, heads, length, keys)
    keep[0, 1, 3, :] = False
    return keep


case("plain_gqa", 2, 6, 2, 37, 53, 64, strided=True)
case("key_padding", 2, 6, 2, 37, 53, 64, mask=key_padding, strided=True)
case("random_boolean", 2, 6, 2, 37, 53, 64, mask=random_keep)
case("additive", 2, 6, 2, 37, 53, 64, mask=additive)
case("causal_rectangular", 1, 4, 2, 29, 45, 64, causal=True)
case("causal_square", 1, 2, 1, 33, 33, 128, causal=True)
case("wide_heads", 1, 2, 2, 100, 141, 128, mask=key_padding)
case("many_blocks", 1, 2, 1, 200, 700, 64, mask=key_padding)
case("dim_40", 1, 2, 1, 19, 23, 40)
case("dim_36", 2, 3, 3, 21, 17, 36, mask=random_keep)
case("value_dim_differs", 1, 4, 1, 13, 31, 32, value_dim=48)
case("single", 1, 1, 1, 1, 1, 16)
case("all_hidden_row", 1, 2, 1, 7, 9, 16, mask=one_row_hidden, torch_check=False)

FOLDER.mkdir(parents=True, exist_ok=True)
save_file(tensors, str(FOLDER / "attention.safetensors"))
print(f"wrote {len(tensors)} tensors to {FOLDER / 'attention.safetensors'}")

ops: dict[str, np.ndarray] = {}


def put(case: str, **values) -> None:
    for key, value in values.items():
        value = np.asarray(value)
        ops[f"{case}/{key}"] = np.ascontiguousarray(value.astype(np.float32) if value.dtype == np.float64 else value)


def product(a, b):
    return a.astype(np.float64) @ b.astype(np.float64)


x, w, bias = normal(2, 37, 48), normal(40, 48), normal(40)
put("linear", x=x, w=w, bias=bias, out=product(x, w.T), out_bias=product(x, w.T) + bias)
a, b = normal(5, 9, 24), normal(5, 24, 33)
put("batched", a=a, b=b, out=product(a, b))
a, b = normal(3, 1, 11, 16), normal(1, 4, 16, 9)
put("broadcast_batch", a=a, b=b, out=product(a, b))
a_t, b = normal(24, 150), normal(24, 21)
put("transposed_left", a_t=a_t, b=b, out=product(a_t.T, b))
a, b, w = normal(1, 64), normal(64, 300), normal(300, 64)
put("one_row", a=a, b=b, w=w, out=product(a, b), out_w=product(a, w.T))
a, b, c = normal(300, 70), normal(70, 130), normal(300, 130)
put("blocks", a=a, b=b, c=c, out=product(a, b), addmm=2.0 * c.astype(np.float64) + 0.5 * product(a, b))
# Few rows take the direct kernel, not BLAS: these leave 1 to 5 rows after its 6-row tiles (with the cases above).
a, b, c, two = normal(22, 30), normal(30, 70), normal(22, 70), normal(2, 30)
put("few_rows", a=a, b=b, c=c, two=two, addmm=1.5 * c.astype(np.float64) - 0.25 * product(a, b), two_out=product(two, b))
row, a = normal(1, 11), normal(6, 20)
put("broadcast_rows", a=a, row=row, out=product(a, np.broadcast_to(row, (20, 11))))

values = np.concatenate([np.linspace(-100, 100, 2001), [0.0, -0.0, 1e-30, -1e-30], rng.standard_normal(70001 - 2005) * 4])
values = values.astype(np.float32)
vd = values.astype(np.float64)
put("unary", x=values, sigmoid=1 / (1 + np.exp(-vd)), silu=vd / (1 + np.exp(-vd)))
grid = normal(33, 29)
gd = grid.astype(np.float64)
put("unary_views", x=grid, silu_transposed=(gd / (1 + np.exp(-gd))).T, silu_every_other_column=(gd / (1 + np.exp(-gd)))[:, ::2])

a, b = normal(2, 5, 37), normal(2, 1, 37)
ad, bd = a.astype(np.float64), b.astype(np.float64)
put("binary", a=a, b=b, column=normal(2, 5, 1), add=ad + bd, subtract=ad - bd, multiply=ad * bd, divide=ad / bd,
    scalar_times=ad * 2.5, a_transposed_plus_a=np.swapaxes(ad, 1, 2) + np.swapaxes(ad, 1, 2))
put("binary", column_times=ad * ops["binary/column"].astype(np.float64))
big, big_rows = normal(300, 257), normal(257)
put("binary", big=big, big_rows=big_rows, big_sum=big.astype(np.float64) + big_rows.astype(np.float64))

x, w, bias = normal(3, 7, 200), normal(200), normal(200)
xd = x.astype(np.float64)
mu = xd.mean(-1, keepdims=True)
var = ((xd - mu) ** 2).mean(-1, keepdims=True)
plain = (xd - mu) / np.sqrt(var + 1e-6)
rms = xd / np.sqrt((xd ** 2).mean(-1, keepdims=True) + 1e-6)
put("norms", x=x, w=w, bias=bias, layer_plain=plain, layer_affine=plain * w + bias, rms=rms * w, rms_plain=rms)
odd = normal(5, 37)
od = odd.astype(np.float64)
put("norms", odd=odd, odd_layer=(od - od.mean(-1, keepdims=True)) / np.sqrt(od.var(-1, keepdims=True) + 1e-5),
    odd_columns_rms=(od.T / np.sqrt((od.T ** 2).mean(-1, keepdims=True) + 1e-5)))

table = normal(50, 40)
rows = rng.integers(0, 50, size=300).astype(np.uint32)  # with repeats
partner = (np.arange(64) ^ 1).astype(np.uint32)
cube = normal(4, 9, 64)
signed = np.array([-1, 0, 5, -9, 8, 3], dtype=np.int32)
put("take", table=table, rows=rows, rows_out=table[rows], cube=cube, partner=partner,
    partner_out=cube[..., partner], signed=signed, signed_out=np.take(cube, signed, axis=1))
base, updates = normal(50, 40), normal(300, 1, 40)
added = base.astype(np.float64).copy()
np.add.at(added, rows, updates[:, 0].astype(np.float64))
counts = np.zeros(50)
np.add.at(counts, rows, 1.0)
put("scatter", base=base, updates=updates, out=added, counts=counts)

for width in (64, 20):
    x, cos, sin = normal(2, 5, 3, width), normal(5, 1, width), normal(5, 1, width)
    xd = x.astype(np.float64)
    swapped = xd[..., np.arange(width) ^ 1]
    put(f"rotate_{width}", x=x, cos=cos, sin=sin, out=xd * cos + swapped * sin, x_bhsd=np.swapaxes(x, 1, 2))

def conv(x, w, stride=1, padding=0, dilation=1):
    """NHWC input, OHWI weight (MLX's layouts); PyTorch computes in NCHW / OIHW, in float64."""
    out = F.conv2d(torch.from_numpy(x).double().permute(0, 3, 1, 2), torch.from_numpy(w).double().permute(0, 3, 1, 2),
                   stride=stride, padding=padding, dilation=dilation)
    return out.permute(0, 2, 3, 1).numpy()


cx, w3, w1 = normal(2, 30, 41, 5), normal(7, 3, 3, 5), normal(6, 1, 1, 5)  # 2460 pixels: several blocks
put("conv", x=cx, w3=w3, w1=w1, pad1=conv(cx, w3, padding=1), stride2=conv(cx, w3, stride=2),
    dilated=conv(cx, w3, padding=2, dilation=2), pointwise=conv(cx, w1))
ux = normal(2, 3, 5, 4)
put("upsample", x=ux, out=ux.repeat(2, axis=1).repeat(2, axis=2))
lx = normal(3, 70, 33)
put("l2", x=lx, keep=np.sqrt((lx.astype(np.float64) ** 2).sum(-1, keepdims=True)),
    drop=np.sqrt((lx.astype(np.float64) ** 2).sum(-1)))

save_file(ops, str(FOLDER / "ops.safetensors"))
print(f"wrote {len(ops)} tensors to {FOLDER / 'ops.safetensors'}")
