// Response ids as OpenAI spells them: a prefix ("cmpl", "chatcmpl") and a random part.
import { randomUUID } from "node:crypto";

export function responseId(prefix: string): string {
  return `${prefix}-${randomUUID().replaceAll("-", "")}`;
}
