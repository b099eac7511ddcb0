/**
 * Nested leave-one-file-out: a held-out file never takes part in choosing the configuration it
 * is scored with, and the selection rule (best F1 under the FAR cap, else the lowest FAR) is
 * what the report says it is. Synthetic counts, so each case is checked by hand.
 */
import { strict as assert } from "assert";
import { choose, gridOf, nestedLeaveOneFileOut, DEFAULT_AXES } from "../../cli/train/skab-cv";
import { SKAB_CONFIG, type Counts } from "../../cli/train/skab-eval";
import { heldOutGoalMet, raisesPerHour } from "../../bench/skab";

const perfect: Counts = { tp: 100, fp: 0, tn: 100, fn: 0 };
const awful: Counts = { tp: 0, fp: 100, tn: 0, fn: 100 };
const fair: Counts = { tp: 80, fp: 5, tn: 95, fn: 20 };
const noisy: Counts = { tp: 100, fp: 30, tn: 70, fn: 0 };

describe("SKAB nested leave-one-file-out", () => {
  it("scores each file with the configuration chosen without it", () => {
    // Config 0 is perfect on files 1 and 2 but awful on file 0; config 1 is fair everywhere.
    const counts = [
      [awful, perfect, perfect],
      [fair, fair, fair],
    ];
    const cv = nestedLeaveOneFileOut(["f0", "f1", "f2"], counts);
    assert.deepEqual(cv.folds.map((f) => f.chosen), [0, 1, 1]);
    // File 0 held out: chosen on files 1 and 2 (config 0), so it gets config 0's awful counts.
    assert.deepEqual(cv.folds[0].counts, awful);
    assert.deepEqual(cv.heldOut, { tp: 160, fp: 110, tn: 190, fn: 140 });
    // On all three files config 1 wins (config 0's FAR is 33 %, above the cap).
    assert.equal(cv.allChosen, 1);
  });

  it("prefers F1 under the FAR cap, and falls back to the lowest FAR when nothing qualifies", () => {
    assert.equal(choose([[noisy], [fair]], [0]), 1, "noisy has the higher F1 but FAR 30 %");
    assert.equal(choose([[noisy], [awful]], [0]), 0, "nothing under the cap: the lower FAR");
  });

  it("covers every detector, window, margin and hysteresis of the axes, around the base configuration", () => {
    const grid = gridOf(SKAB_CONFIG, DEFAULT_AXES);
    const n = Object.values(DEFAULT_AXES).reduce((p, a: unknown[]) => p * a.length, 1);
    assert.equal(grid.length, n);
    assert.equal(new Set(grid.map((g) => JSON.stringify(g))).size, n);
    assert.ok(grid.every((g) => g.trainRows === 400 && g.features === SKAB_CONFIG.features));
  });

  it("states the goal and counts alarm raises per hour", () => {
    assert.equal(heldOutGoalMet({ tp: 85, fp: 9, tn: 91, fn: 15 }), true);
    assert.equal(heldOutGoalMet({ tp: 85, fp: 11, tn: 89, fn: 15 }), false);
    const states = [false, true, true, false, true, false, false, true];
    assert.deepEqual(raisesPerHour(states, 4), { raises: 3, hours: 2, perHour: 1.5 });
  });
});
