import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { ModelWatcher } from "../../nodes/otb-infer/model-watcher";
import { delay, waitFor } from "../helpers/peers";
import { tempDir } from "./models";

describe("otb-infer model watcher", () => {
  let dir: string;
  let watcher: ModelWatcher | null = null;
  beforeEach(() => {
    dir = tempDir();
    fs.writeFileSync(path.join(dir, "m.onnx"), "v1");
    fs.writeFileSync(path.join(dir, "m.card.json"), "{}");
  });
  afterEach(() => {
    watcher?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const files = (): string[] => [path.join(dir, "m.onnx"), path.join(dir, "m.card.json")];
  const replace = (name: string, text: string): void => {
    fs.writeFileSync(path.join(dir, `${name}.tmp`), text);
    fs.renameSync(path.join(dir, `${name}.tmp`), path.join(dir, name));
  };

  for (const fsWatch of [true, false]) {
    it(`reports a model and its card replaced together once${fsWatch ? "" : " (poll only, no fs.watch)"}`, async () => {
      let changes = 0;
      watcher = new ModelWatcher(files(), { pollMs: 50, settleMs: 150, fsWatch }, () => changes++);
      await delay(100);
      assert.equal(changes, 0, "nothing changed yet");
      replace("m.onnx", "v2-longer");
      await delay(20);
      replace("m.card.json", '{"v":2}');
      await waitFor(() => changes === 1, 3000);
      await delay(400);
      assert.equal(changes, 1, "one change, not one per file or per poll");
      fs.writeFileSync(path.join(dir, "unrelated.txt"), "x");
      await delay(400);
      assert.equal(changes, 1, "other files in the folder are not the model");
    });
  }
});
