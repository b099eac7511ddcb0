/**
 * Process capability (NIST/SEMATECH e-Handbook section 6.1.6; Montgomery ch. 8):
 *   Cp  = (USL - LSL) / 6 sigma_within,  Cpk = min(USL - mean, mean - LSL) / 3 sigma_within,
 *   Pp and Ppk the same with the overall sample standard deviation, Cpm with the target.
 * sigma_within comes from the control chart (R-bar/d2, S-bar/c4, MR-bar/1.128). The indices
 * assume a stable, normal process: the result carries the sample size, skewness and excess
 * kurtosis and a plain caveat, and a lower 95% confidence bound on Cpk (Bissell 1990).
 */
export interface Spec {
  lsl?: number;
  usl?: number;
  target?: number;
}

export interface Capability {
  n: number;
  mean: number;
  sigmaWithin: number;
  sigmaOverall: number;
  cp: number | null;
  cpk: number | null;
  pp: number | null;
  ppk: number | null;
  cpm: number | null;
  cpkLower95: number | null;
  skewness: number;
  excessKurtosis: number;
  caveats: string[];
}

export function capability(values: number[], sigmaWithin: number, spec: Spec): Capability {
  const n = values.length;
  const mean = n ? values.reduce((a, b) => a + b, 0) / n : NaN;
  let m2 = 0;
  let m3 = 0;
  let m4 = 0;
  for (const v of values) {
    const d = v - mean;
    m2 += d * d;
    m3 += d * d * d;
    m4 += d * d * d * d;
  }
  const sigmaOverall = n > 1 ? Math.sqrt(m2 / (n - 1)) : 0;
  const pm2 = n ? m2 / n : 0;
  const skewness = pm2 > 0 ? m3 / n / Math.pow(pm2, 1.5) : 0;
  const excessKurtosis = pm2 > 0 ? m4 / n / (pm2 * pm2) - 3 : 0;
  const { lsl, usl, target } = spec;
  const both = lsl !== undefined && usl !== undefined;
  const ratio = (num: number, den: number): number | null => (den > 0 && Number.isFinite(num) ? num / den : null);
  const k = (s: number): number | null => {
    const parts: number[] = [];
    if (usl !== undefined) parts.push((usl - mean) / (3 * s));
    if (lsl !== undefined) parts.push((mean - lsl) / (3 * s));
    return parts.length && s > 0 ? Math.min(...parts) : null;
  };
  const cp = both ? ratio(usl - lsl, 6 * sigmaWithin) : null;
  const cpk = k(sigmaWithin);
  const pp = both ? ratio(usl - lsl, 6 * sigmaOverall) : null;
  const ppk = k(sigmaOverall);
  const tau = target !== undefined ? Math.sqrt(sigmaOverall * sigmaOverall + (mean - target) * (mean - target)) : NaN;
  const cpm = both && target !== undefined ? ratio(usl - lsl, 6 * tau) : null;
  const cpkLower95 = cpk !== null && n > 1 ? cpk * (1 - 1.96 * Math.sqrt(1 / (9 * n * cpk * cpk) + 1 / (2 * (n - 1)))) : null;
  const caveats: string[] = [];
  if (n < 30) caveats.push(`only ${n} values: indices are rough estimates`);
  else if (n < 100) caveats.push(`${n} values: the 95% lower bound on Cpk is well below the estimate`);
  // |skew| > 0.5 or |excess kurtosis| > 1 is a common rule of thumb for "clearly not normal".
  if (Math.abs(skewness) > 0.5 || Math.abs(excessKurtosis) > 1) {
    caveats.push(`distribution looks non-normal (skewness ${skewness.toFixed(2)}, excess kurtosis ${excessKurtosis.toFixed(2)}): indices assume normality`);
  } else {
    caveats.push("indices assume a stable, normally distributed process; normality was only screened by skewness and kurtosis");
  }
  if (lsl === undefined && usl === undefined) caveats.push("no specification limits: no index");
  return { n, mean, sigmaWithin, sigmaOverall, cp, cpk, pp, ppk, cpm, cpkLower95, skewness, excessKurtosis, caveats };
}
