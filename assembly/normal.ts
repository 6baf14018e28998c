// The complementary error function, for the normal CDF in EconML's variance correction.
// Same algorithm as the host's server/model/causal/normal.ts: a positive-term series for erf
// below 2 (no cancellation), a continued fraction (modified Lentz) above; relative error ~1e-15
// where the correction uses it.
const FRAC_2_SQRT_PI: f64 = 1.1283791670955126;

function erfSeries(x: f64): f64 {
  // erf(x) = 2/sqrt(pi) e^{-x^2} sum_n 2^n x^{2n+1} / (2n+1)!!
  const x2 = x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= (2.0 * x2) / <f64>(2 * n + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return FRAC_2_SQRT_PI * Math.exp(-x2) * sum;
}

function erfcFraction(x: f64): f64 {
  // erfc(x) = e^{-x^2}/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...))))
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0.0;
  for (let n = 1; n < 500; n++) {
    const a = <f64>n * 0.5;
    d = x + a * d;
    if (d == 0) d = tiny;
    c = x + a / c;
    if (c == 0) c = tiny;
    d = 1.0 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1.0) < 1e-16) break;
  }
  return (FRAC_2_SQRT_PI * 0.5 * Math.exp(-x * x)) / f;
}

export function erfc(x: f64): f64 {
  if (x != x) return NaN;
  if (x < 0) return 2.0 - erfc(-x);
  if (x < 2.0) return 1.0 - erfSeries(x);
  if (x > 27.3) return 0.0;
  return erfcFraction(x);
}
