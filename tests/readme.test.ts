// The README's example is examples/quickstart.mjs, verbatim (scripts/pack-smoke.sh runs that file
// from an installed tarball), and the API it documents exists.
import { readFileSync } from "node:fs";

import { describe, expect, it } from "vitest";

import { Gpt } from "../lib/index.js";

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");

describe("README", () => {
  it("quotes examples/quickstart.mjs exactly", () => {
    const example = readFileSync(new URL("../examples/quickstart.mjs", import.meta.url), "utf8");
    expect(readme).toContain("```js\n" + example + "```");
  });

  it("quotes examples/openai-client.mjs exactly (scripts/serve-smoke.sh runs it)", () => {
    const example = readFileSync(new URL("../examples/openai-client.mjs", import.meta.url), "utf8");
    expect(readme).toContain("```js\n" + example + "```");
  });

  it("quotes examples/ai-sdk.mjs exactly (scripts/pack-smoke.sh runs it with the real ai package)", () => {
    const example = readFileSync(new URL("../examples/ai-sdk.mjs", import.meta.url), "utf8");
    expect(readme).toContain("```js\n" + example + "```");
  });

  it("documents every generation option and the Gpt members it lists", () => {
    const options = [
      ["maxTokens", "temperature", "topK", "topP", "minP", "repetitionPenalty", "presencePenalty", "frequencyPenalty"],
      ["logitBias", "seed", "stop", "stopTokens", "ignoreEos", "logprobs", "n", "signal"],
    ].flat();
    for (const option of options)
      expect(readme).toContain("`" + option + "`");
    for (const member of ["logits", "generate", "stream", "dispose"]) expect(typeof Gpt.prototype[member as keyof Gpt]).toBe("function");
  });
});
