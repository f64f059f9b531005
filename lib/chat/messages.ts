// A conversation as the chat calls take it, checked: each failure names the message and field.
import { GptInputError } from "../errors.js";
import { describe } from "../option-checks.js";

export type ChatRole = "system" | "user" | "assistant";

export interface ChatMessage {
  role: ChatRole;
  content: string;
}

const ROLES: readonly ChatRole[] = ["system", "user", "assistant"];

/** The messages as plain { role, content } objects (what the template sees), or E_INVALID_ARGUMENT. */
export function checkMessages(messages: unknown): ChatMessage[] {
  if (!Array.isArray(messages) || messages.length === 0)
    throw new GptInputError(`messages must be a non-empty array of { role, content }, got ${describe(messages)}`);
  return messages.map((m: unknown, i) => {
    if (m === null || typeof m !== "object" || Array.isArray(m))
      throw new GptInputError(`messages[${i}] must be an object { role, content }, got ${describe(m)}`);
    const { role, content } = m as Record<string, unknown>;
    if (!ROLES.includes(role as ChatRole))
      throw new GptInputError(`messages[${i}].role must be one of ${ROLES.join(", ")}, got ${describe(role)}`);
    if (typeof content !== "string") throw new GptInputError(`messages[${i}].content must be a string, got ${describe(content)}`);
    return { role: role as ChatRole, content };
  });
}
