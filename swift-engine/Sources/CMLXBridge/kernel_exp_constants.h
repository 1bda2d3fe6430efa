// exp(x) = 2ⁿ · e^r with n = round(x / ln 2) and |r| ≤ ln 2 / 2; e^r from its Taylor series to r⁷ (truncation
// error below 6e-9 relative on that interval), ln 2 split in two parts so that n · ln 2 is subtracted exactly.
// Inputs below exp_min_input give 0 (the softmax of a masked score); inputs are capped at exp_max_input.
constexpr float exp_log2e = 1.44269504088896341f;
constexpr float exp_ln2_high = 0.693359375f;           // 355/512: few mantissa bits, so n · high is exact
constexpr float exp_ln2_low = -2.12194440054690583e-4f;  // ln 2 − high
constexpr float exp_min_input = -87.3365447505531f;    // ln of the smallest normal float
constexpr float exp_max_input = 88.0f;                 // keeps n ≤ 127
constexpr float exp_taylor[8] = {1.0f, 1.0f, 1.0f / 2, 1.0f / 6, 1.0f / 24, 1.0f / 120, 1.0f / 720, 1.0f / 5040};
