import { strict as assert } from "assert";
import { capability } from "../../nodes/shared/outcomes/capability";
import { ControlChart, limitsFrom } from "../../nodes/shared/outcomes/spc-chart";
import { c4, constants } from "../../nodes/shared/outcomes/spc-constants";
import { ALL_RULES, evaluate, type RuleId } from "../../nodes/shared/outcomes/spc-rules";

const close = (actual: number, expected: number, digits: number, what: string): void =>
  assert.ok(Math.abs(actual - expected) <= 0.5 * 10 ** -digits + 1e-12, `${what}: ${actual} is not ${expected} to ${digits} digits`);

describe("SPC constants", () => {
  // NIST/SEMATECH e-Handbook of Statistical Methods, 6.3.2.1 "Shewhart X-bar and R and S
  // Control Charts", table of A2, D3, D4 and of c4.
  const NIST: Array<[number, number, number, number, number]> = [
    // n, A2, D3, D4, c4
    [2, 1.88, 0, 3.267, 0.7979], [3, 1.023, 0, 2.574, 0.8862], [4, 0.729, 0, 2.282, 0.9213],
    [5, 0.577, 0, 2.115, 0.94], [6, 0.483, 0, 2.004, 0.9515], [7, 0.419, 0.076, 1.924, 0.9594],
    [8, 0.373, 0.136, 1.864, 0.965], [9, 0.337, 0.184, 1.816, 0.9693], [10, 0.308, 0.223, 1.777, 0.9727],
  ];
  for (const [n, A2, D3, D4, C4] of NIST) {
    it(`n=${n}: A2, D3, D4 and c4 match the NIST table`, () => {
      const k = constants(n);
      // d2 is tabulated to 3 decimals (1.128 for 1.12838), so A2(2) comes out 1.8806 against the printed 1.880.
      assert.ok(Math.abs(k.A2 - A2) <= 0.001, `A2 ${k.A2} vs ${A2}`);
      close(k.D3, D3, 3, "D3");
      // d2, d3 are tabulated to 3 decimals, so D4 = 1 + 3 d3/d2 differs from the printed table by up to 0.002.
      assert.ok(Math.abs(k.D4 - D4) <= 0.002, `D4 ${k.D4} vs ${D4}`);
      close(c4(n), C4, 4, "c4");
    });
  }
  // Montgomery, Introduction to Statistical Quality Control (6th ed.), Appendix VI.
  for (const [n, A3, B3, B4] of [[5, 1.427, 0, 2.089], [10, 0.975, 0.284, 1.716], [25, 0.606, 0.565, 1.435]]) {
    it(`n=${n}: A3, B3, B4 match Montgomery's Appendix VI`, () => {
      const k = constants(n);
      close(k.A3, A3, 3, "A3");
      close(k.B3, B3, 3, "B3");
      close(k.B4, B4, 3, "B4");
    });
  }
  it("refuses subgroup sizes without tabulated constants", () => {
    assert.throws(() => constants(1), RangeError);
    assert.throws(() => constants(26), RangeError);
  });
});

describe("SPC charts against published examples", () => {
  it("I-MR: NIST e-Handbook 6.3.2.2 flow-rate example (x-bar 50.81, MR-bar 1.8778, UCL 55.80, LCL 45.82, MR UCL 6.13)", () => {
    const flow = [49.6, 47.6, 49.9, 51.3, 47.8, 51.2, 52.6, 52.4, 53.6, 52.1];
    const chart = new ControlChart({ type: "imr", rules: ["nelson1"], baselinePoints: 10 });
    let report;
    flow.forEach((x, i) => {
      const r = chart.addValue(x, i);
      if (r.baseline) report = r.baseline;
    });
    assert.ok(report, "limits computed after 10 points");
    const L = chart.currentLimits!;
    close(L.center, 50.81, 2, "x-bar");
    close(L.dispersion!, 1.8778, 4, "MR-bar");
    close(L.center + 3 * L.sigma, 55.8, 2, "UCL");
    close(L.center - 3 * L.sigma, 45.82, 2, "LCL");
    close(3.267 * L.dispersion!, 6.13, 2, "MR UCL");
    const next = chart.addValue(56, 10);
    assert.deepEqual(next.point!.violations, ["nelson1"], "a value above 55.80 violates rule 1");
    assert.equal(next.events[0].state, "raised");
  });

  it("p chart phase I: Montgomery SQC exercise 6-1 (n=100, m=20, 117 nonconforming; sample 12 excluded, limits recomputed)", () => {
    // The published solution: p-bar 0.0585, UCL 0.1289, LCL 0; sample 12 is out of control;
    // without it p-bar 0.0537 (102/1900), UCL 0.1213. Counts other than sample 12 (15) are
    // spread to the published sums.
    const counts = [4, 6, 5, 7, 3, 5, 6, 4, 8, 5, 6, 15, 5, 4, 6, 7, 5, 6, 4, 6];
    assert.equal(counts.reduce((a, b) => a + b, 0), 117);
    const chart = new ControlChart({ type: "p", rules: ["nelson1"], baselinePoints: 20 });
    let report = null;
    counts.forEach((c, i) => {
      const r = chart.addSample({ count: c, size: 100 }, i);
      if (r.baseline) report = r.baseline;
    });
    const first = limitsFrom("p", 1, counts.map((c, i) => ({ ts: i, value: c / 100, size: 100 })));
    close(first.center, 0.0585, 4, "p-bar before exclusion");
    close(first.center + 3 * Math.sqrt((first.center * (1 - first.center)) / 100), 0.1289, 4, "UCL before exclusion");
    assert.ok(report);
    const r = report as unknown as { excluded: Array<{ index: number }>; used: number; limits: { center: number } };
    assert.deepEqual(r.excluded.map((e) => e.index), [11], "sample 12 (index 11) excluded and reported");
    assert.equal(r.used, 19);
    close(r.limits.center, 0.0537, 4, "p-bar after exclusion");
    close(r.limits.center + 3 * Math.sqrt((r.limits.center * (1 - r.limits.center)) / 100), 0.1213, 4, "UCL after exclusion");
  });

  it("X-bar/R and X-bar/S limits follow A2 R-bar, D3/D4 R-bar, A3 S-bar, B3/B4 S-bar", () => {
    const data = [[10, 12, 11, 13, 9], [11, 10, 12, 12, 10], [9, 11, 10, 12, 13], [12, 10, 11, 9, 11]];
    const R = new ControlChart({ type: "xbar-r", n: 5, rules: [], baselinePoints: 4 });
    const S = new ControlChart({ type: "xbar-s", n: 5, rules: [], baselinePoints: 4 });
    data.flat().forEach((x, i) => { R.addValue(x, i); S.addValue(x, i); });
    const xbb = data.flat().reduce((a, b) => a + b, 0) / 20;
    const rbar = data.map((g) => Math.max(...g) - Math.min(...g)).reduce((a, b) => a + b, 0) / 4;
    const LR = R.currentLimits!;
    close(LR.center, xbb, 9, "x-double-bar");
    close(LR.center + 3 * LR.sigma / Math.sqrt(5), xbb + 0.577 * rbar, 2, "UCL = x + A2 R-bar");
    const LS = S.currentLimits!;
    const k = constants(5);
    close(LS.center + 3 * LS.sigma / Math.sqrt(5), xbb + k.A3 * LS.dispersion!, 9, "UCL = x + A3 S-bar");
    const next = S.addValue(11, 30);
    assert.equal(next.point, null, "a subgroup completes only after n values");
  });

  it("c and u charts: c-bar +- 3 sqrt(c-bar), u-bar +- 3 sqrt(u-bar / units)", () => {
    const c = new ControlChart({ type: "c", rules: ["nelson1"], limits: { center: 9, sigma: 3 } });
    const p = c.addSample({ count: 19, size: 1 }, 1).point!;
    assert.equal(p.ucl, 18);
    assert.equal(p.lcl, 0);
    assert.deepEqual(p.violations, ["nelson1"]);
    const u = new ControlChart({ type: "u", rules: ["nelson1"], limits: { center: 2, sigma: Math.SQRT2 } });
    const q = u.addSample({ count: 10, size: 4 }, 1).point!;
    close(q.ucl, 2 + 3 * Math.sqrt(2 / 4), 12, "u UCL with 4 units");
    assert.equal(q.value, 2.5);
  });

  it("refuses bad input with a reason instead of plotting it", () => {
    const chart = new ControlChart({ type: "imr", rules: ["nelson1"] });
    assert.throws(() => chart.addValue(Number.NaN, 1), /finite/);
    const p = new ControlChart({ type: "p", rules: [] });
    assert.throws(() => p.addSample({ count: -1, size: 10 }, 1), /non-negative/);
    assert.throws(() => p.addSample({ count: 11, size: 10 }, 1), /exceeds/);
    assert.throws(() => p.addSample({ count: 1, size: 0 }, 1), /positive/);
    assert.throws(() => new ControlChart({ type: "xbar-r", n: 30, rules: [] }), /2\.\.25/);
  });

  it("raises a rule once and clears it when a point no longer violates it", () => {
    const chart = new ControlChart({ type: "imr", rules: ["nelson1", "nelson2"], limits: { center: 0, sigma: 1, dispersion: 1.128 } });
    const events = [0.2, 3.1, 3.2, 0.5, 0.1].flatMap((x, i) => chart.addValue(x, i).events.map((e) => `${e.state}:${e.rule}@${i}`));
    assert.deepEqual(events, ["raised:nelson1@1", "cleared:nelson1@3"]);
  });
});

describe("capability", () => {
  it("NIST e-Handbook 6.1.6 example: USL 20, LSL 8, mean 16, sigma 2 gives Cp 1.0 and Cpk 0.667", () => {
    // A sample with mean exactly 16 and standard deviation exactly 2.
    const values = [14, 18, 14, 18, 14, 18, 14, 18].map((v) => v);
    const sd = Math.sqrt(values.reduce((a, v) => a + (v - 16) ** 2, 0) / 7);
    const cap = capability(values, 2, { lsl: 8, usl: 20 });
    close(cap.cp!, 1.0, 9, "Cp");
    close(cap.cpk!, 0.6667, 4, "Cpk");
    close(cap.pp!, 12 / (6 * sd), 9, "Pp uses the overall sigma");
    assert.equal(cap.n, 8);
    assert.ok(cap.caveats.some((c) => /only 8 values/.test(c)), "small sample caveat");
  });
  it("one-sided spec gives Cpk but no Cp; Cpm needs a target", () => {
    const cap = capability([9, 10, 11], 1, { usl: 13, target: 10 });
    assert.equal(cap.cp, null);
    close(cap.cpk!, 1, 9, "Cpk = (13-10)/3");
    assert.equal(cap.cpm, null);
  });
});

describe("Nelson and Western Electric rules", () => {
  const once = (rule: RuleId, zs: number[], at: number): void => {
    const hits = evaluate(zs, [rule]).map((v, i) => (v.includes(rule) ? i : -1)).filter((i) => i >= 0);
    assert.deepEqual(hits, [at], `${rule} should fire exactly once, at point ${at}`);
  };
  const never = (rule: RuleId, zs: number[]): void => {
    const hits = evaluate(zs, [rule]).map((v, i) => (v.includes(rule) ? i : -1)).filter((i) => i >= 0);
    assert.deepEqual(hits, [], `${rule} must not fire`);
  };
  const alt13 = Array.from({ length: 13 }, (_, i) => (i % 2 ? 0.5 : -0.5));
  const CASES: Record<RuleId, { fire: number[]; at: number; not: number[][] }> = {
    nelson1: { fire: [0, 0.5, 3.5, 0.2, -0.4], at: 2, not: [[2.9, -2.9, 3, -3]] },
    we1: { fire: [0, 0.5, -3.2, 0.2], at: 2, not: [[2.99, 0, -3]] },
    nelson2: { fire: [-0.5, ...Array(9).fill(0.1), -0.5], at: 9, not: [[-0.5, ...Array(8).fill(0.1), -0.5, ...Array(8).fill(0.1)], [...Array(4).fill(0.1), 0, ...Array(5).fill(0.1)]] },
    we4: { fire: [0.5, ...Array(8).fill(-0.1), 0.5], at: 8, not: [[...Array(7).fill(-0.1), 0.2, ...Array(7).fill(-0.1)]] },
    nelson3: { fire: [0.5, 0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.4], at: 6, not: [[0, 0.1, 0.2, 0.3, 0.4, 0.3], [0, 0.1, 0.2, 0.2, 0.3, 0.4, 0.5]] },
    nelson4: { fire: [0.3, 0.3, ...alt13, alt13[12]], at: 14, not: [[0.3, 0.3, ...alt13.slice(0, 12), alt13[11]]] },
    nelson5: { fire: [0, 0, 0, 2.5, 0.5, 2.5, 0, 0], at: 5, not: [[0, 2.5, 0, 0, 2.5, 0], [0, 2.5, -2.5, 0], [2, 2, 2]] },
    we2: { fire: [0, 0, 0, -2.5, -2.1, 0], at: 4, not: [[0, -2.5, 2.5, 0]] },
    nelson6: { fire: [0, 0, 0, 0, 1.5, 1.5, 0.2, 1.5, 1.5, 0], at: 8, not: [[0, 1.5, 1.5, 0.2, 0.2, 1.5, 0], [1.5, -1.5, 1.5, -1.5, 1.5]] },
    we3: { fire: [0, 0, 0, 0, -1.5, -1.5, -1.5, -1.5, 0], at: 7, not: [[0, -1.5, -1.5, -1.5, 0, 0, -1.5]] },
    nelson7: { fire: [2, ...Array.from({ length: 15 }, (_, i) => (i % 3) * 0.3 - 0.3), 2], at: 15, not: [[2, ...Array(14).fill(0.5), 2], [...Array(7).fill(0.5), 1, ...Array(7).fill(0.5)]] },
    nelson8: { fire: [0, 1.5, -1.5, 1.5, -1.5, 1.5, -1.5, 1.5, -1.5, 0], at: 8, not: [Array(8).fill(1.5), [1.5, -1.5, 1.5, -1.5, 0.9, 1.5, -1.5, 1.5, -1.5]] },
  };
  for (const rule of ALL_RULES) {
    const c = CASES[rule];
    it(`${rule} fires exactly once on a sequence built for it, and not on near misses`, () => {
      once(rule, c.fire, c.at);
      for (const n of c.not) never(rule, n);
    });
  }
  it("each rule is independent: selecting one reports only that one", () => {
    const v = evaluate([0, 0, 5], ["nelson2"]);
    assert.deepEqual(v, [[], [], []]);
  });
});
