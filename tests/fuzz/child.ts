// A fuzzing child process: loads each mutant checkpoint it is sent and generates two tokens with
// it, and answers with the outcome's class. The parent (tests/fuzz/run.ts) sees a crash as this
// process's death and a hang as its silence.
import { Gpt, GptError } from "../../lib/index.js";

export type Outcome = "loaded" | `error ${string}` | `not a GptError: ${string}`;

/** Pseudo-paths for the harness's own test (tests/fuzz.test.ts): it must see a crash and a hang. */
export const SELF_TEST = { crash: "(self-test: crash)", hang: "(self-test: hang)" } as const;

process.on("message", (message: { id: number; dir: string }) => {
  if (message.dir === SELF_TEST.crash) process.kill(process.pid, "SIGSEGV");
  if (message.dir === SELF_TEST.hang) for (;;);
  void (async () => {
    let outcome: Outcome;
    try {
      const gpt = await Gpt.load(message.dir, { device: "cpu", threads: 1, maxSequences: 1, kvCacheTokens: 256 });
      try {
        await gpt.generate("Hello there", { maxTokens: 2, ignoreEos: true, seed: 1 });
        outcome = "loaded";
      } finally {
        gpt.dispose();
      }
    } catch (e) {
      const what = e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e);
      outcome = e instanceof GptError ? `error ${e.code}` : `not a GptError: ${what.slice(0, 300)}`;
    }
    process.send!({ id: message.id, outcome });
  })();
});
process.send!({ ready: true });
