// Forward passes run off the JS thread: the event loop keeps turning while the model works.
import { describe, expect, it } from "vitest";

import { Gpt } from "../lib/index.js";
import { fixtureDir } from "./helpers/fixtures.js";

describe("event loop", () => {
  it("runs a macrotask queued after a forward pass starts before that pass ends", async () => {
    const gpt = await Gpt.load(fixtureDir("fallback-vocab"), { device: "cpu", threads: 1 });
    const ids = Array.from({ length: 32 }, (_, i) => 1000 + i);
    // 32 rows of 50257 logits: milliseconds of work. A blocking call would resolve first (its
    // continuation is a microtask); a pass on a worker thread lets setImmediate fire first.
    const first = await Promise.race([
      gpt.logits(ids).then(() => "forward"),
      new Promise<string>((resolve) => setImmediate(() => resolve("immediate"))),
    ]);
    expect(first).toBe("immediate");
    gpt.dispose();
  });
});
