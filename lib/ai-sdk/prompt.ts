// The AI SDK's prompt as gpt-cuda's chat messages. The models read and write text only: a file,
// tool call, tool result or reasoning part is E_UNSUPPORTED, naming the message and part.
import type { LanguageModelV4Prompt } from "@ai-sdk/provider";

import type { ChatMessage } from "../chat/messages.js";
import { GptError } from "../errors.js";

export function chatMessagesOf(prompt: LanguageModelV4Prompt): ChatMessage[] {
  return prompt.map((message, i) => {
    if (message.role === "system") return { role: "system", content: message.content };
    if (message.role === "tool")
      throw new GptError("E_UNSUPPORTED", `prompt[${i}] is a tool message: gpt-cuda's models do not call tools`);
    const texts = message.content.map((part, j) => {
      if (part.type === "text") return part.text;
      const kind = part.type === "file" ? `file (${part.mediaType})` : part.type;
      throw new GptError("E_UNSUPPORTED", `prompt[${i}].content[${j}] is a ${kind} part: gpt-cuda's models read and write text only`);
    });
    // Several text parts of one message are one text, as a chat API concatenates them.
    return { role: message.role, content: texts.join("") };
  });
}

/** The text of a conversation that is one user message (what generateText({ prompt }) sends); else null. */
export function loneUserText(messages: readonly ChatMessage[]): string | null {
  const [only] = messages;
  return messages.length === 1 && only!.role === "user" ? only!.content : null;
}
