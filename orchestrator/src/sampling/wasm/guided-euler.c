// The sampling loop's float32 step with classifier-free guidance, compiled to WebAssembly (with SIMD) by
// scripts/generate-wasm.sh into guided-euler-module.ts. It computes exactly what guidance.ts's
// guidedEulerStepFloat32 computes, operation for operation: float32 arithmetic (WebAssembly rounds every float
// operation to the nearest, as Math.fround does in the JavaScript version), the guidance scale rounded to float32,
// and each norm summed in double precision as four partial sums (channel mod 4) added as (s0 + s1) +
// (s2 + s3). Four channels at a time in SIMD registers; channels must be a multiple of 4. No libc.

#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(name)))

// Squares of four float32 values (exact in double) added lane by lane to the partial sums of channels 0,1 (low)
// and 2,3 (high) mod 4.
static inline void add_squares(v128_t values, v128_t *low, v128_t *high) {
  v128_t first = wasm_f64x2_promote_low_f32x4(values);
  v128_t second = wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(values, values, 2, 3, 0, 1));
  *low = wasm_f64x2_add(*low, wasm_f64x2_mul(first, first));
  *high = wasm_f64x2_add(*high, wasm_f64x2_mul(second, second));
}

static inline double partial_sums_total(v128_t low, v128_t high) {
  return (wasm_f64x2_extract_lane(low, 0) + wasm_f64x2_extract_lane(low, 1)) +
         (wasm_f64x2_extract_lane(high, 0) + wasm_f64x2_extract_lane(high, 1));
}

// out[t][c] = latents[t][c] + dt · −(comb[t][c] · ratio[t]), where comb = uncond + scale · (cond − uncond) and
// ratio[t] = ‖cond[t]‖ / ‖comb[t]‖; `combined` is scratch for one token's channels.
EXPORT("guided_euler_step")
void guided_euler_step(const float *latents, const float *cond, const float *uncond, float *out, float *combined,
                       int tokens, int channels, double scale, float dt) {
  const v128_t scale4 = wasm_f32x4_splat((float)scale);  // torch multiplies by the scale as a float32 scalar
  const v128_t dt4 = wasm_f32x4_splat(dt);
  for (int t = 0; t < tokens; t++) {
    const float *c = cond + t * channels, *u = uncond + t * channels, *l = latents + t * channels;
    float *o = out + t * channels;
    v128_t cond_low = wasm_f64x2_splat(0), cond_high = cond_low, comb_low = cond_low, comb_high = cond_low;
    for (int k = 0; k < channels; k += 4) {
      v128_t cv = wasm_v128_load(c + k), uv = wasm_v128_load(u + k);
      v128_t scaled = wasm_f32x4_mul(scale4, wasm_f32x4_sub(cv, uv));
      v128_t value = wasm_f32x4_add(uv, scaled);
      wasm_v128_store(combined + k, value);
      add_squares(cv, &cond_low, &cond_high);
      add_squares(value, &comb_low, &comb_high);
    }
    float ratio = (float)__builtin_sqrt(partial_sums_total(cond_low, cond_high)) /
                  (float)__builtin_sqrt(partial_sums_total(comb_low, comb_high));
    const v128_t ratio4 = wasm_f32x4_splat(ratio);
    for (int k = 0; k < channels; k += 4) {
      v128_t prediction = wasm_f32x4_mul(wasm_v128_load(combined + k), ratio4);
      v128_t update = wasm_f32x4_mul(dt4, wasm_f32x4_neg(prediction));
      wasm_v128_store(o + k, wasm_f32x4_add(wasm_v128_load(l + k), update));
    }
  }
}
