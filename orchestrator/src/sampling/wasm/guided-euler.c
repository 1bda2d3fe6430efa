// The sampling loop's float32 step with classifier-free guidance, compiled to WebAssembly (with SIMD) by
// scripts/generate-wasm.sh into guided-euler-module.ts. It computes exactly what guidance.ts's
// guidedEulerStepFloat32 computes, operation for operation: float32 arithmetic (WebAssembly rounds every float
// operation to the nearest, as Math.fround does in the JavaScript version), the guidance scale multiplied in double
// precision, and the two norms summed in double precision in channel order. No libc: only compiler builtins.

#define EXPORT(name) __attribute__((export_name(name)))

// out[t][c] = latents[t][c] + dt · −(comb[t][c] · ratio[t]), where comb = uncond + scale · (cond − uncond) and
// ratio[t] = ‖cond[t]‖ / ‖comb[t]‖; `combined` is scratch for one token's channels.
EXPORT("guided_euler_step")
void guided_euler_step(const float *latents, const float *cond, const float *uncond, float *out, float *combined,
                       int tokens, int channels, double scale, float dt) {
  for (int t = 0; t < tokens; t++) {
    const float *c = cond + t * channels, *u = uncond + t * channels, *l = latents + t * channels;
    float *o = out + t * channels;
    double cond_norm = 0, comb_norm = 0;
    for (int k = 0; k < channels; k++) {
      float difference = c[k] - u[k];
      float value = u[k] + (float)(scale * (double)difference);
      combined[k] = value;
      cond_norm += (double)c[k] * (double)c[k];
      comb_norm += (double)value * (double)value;
    }
    float ratio = (float)__builtin_sqrt(cond_norm) / (float)__builtin_sqrt(comb_norm);
    for (int k = 0; k < channels; k++) o[k] = l[k] + dt * -(combined[k] * ratio);
  }
}
