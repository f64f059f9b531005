// The Vercel AI SDK on gpt-cuda, in this process (npm install gpt-cuda ai).
// Usage: node ai-sdk.mjs [model]   — a checkpoint path or a pulled name; none: the bundled model
import { generateText, streamText } from "ai";
import { gptCuda } from "gpt-cuda/ai-sdk";

const model = gptCuda(process.argv[2], { device: "auto" });

const { text, usage, finishReason } = await generateText({
  model,
  prompt: "Write a short poem about the sea.",
  maxOutputTokens: 32,
  temperature: 0.7,
});
console.log(`${JSON.stringify(text)}: ${usage.outputTokens} tokens, finished by ${finishReason}`);

const result = streamText({ model, prompt: "Say hello.", maxOutputTokens: 16 });
for await (const delta of result.textStream) process.stdout.write(delta);
console.log(`\n${(await result.usage).totalTokens} tokens in all`);

model.dispose();
