// What a model is called where a client names it (the server's model id, the AI SDK's modelId).
import { existsSync } from "node:fs";
import { basename } from "node:path";

/** The name it was pulled by ("gpt2", "org/name@rev"), a checkpoint directory's name, or "default" (the demo model). */
export function modelIdOf(model: string | undefined): string {
  if (model === undefined) return "default";
  if (!existsSync(model)) return model; // a pulled model's name
  return basename(model.replace(/\/+$/, "")).replace(/\.safetensors$/, "");
}
