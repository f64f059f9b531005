// The official `openai` client talking to `gpt-cuda serve` (npm install openai; then start the
// server: npx gpt-cuda serve). OPENAI_BASE_URL and OPENAI_API_KEY point it elsewhere.
import OpenAI from "openai";

const client = new OpenAI({
  baseURL: process.env.OPENAI_BASE_URL ?? "http://127.0.0.1:8080/v1",
  apiKey: process.env.OPENAI_API_KEY ?? "not-needed-without---api-key",
});
const [model] = (await client.models.list()).data;

const completion = await client.completions.create({ model: model.id, prompt: "The old man said", max_tokens: 16, seed: 1 });
console.log(`completion: ${JSON.stringify(completion.choices[0].text)} (${completion.usage.completion_tokens} tokens)`);

const stream = await client.chat.completions.create({
  model: model.id,
  messages: [{ role: "user", content: "Tell me about the sea." }],
  max_tokens: 16,
  stream: true,
});
process.stdout.write("chat: ");
for await (const chunk of stream) process.stdout.write(chunk.choices[0]?.delta?.content ?? "");
process.stdout.write("\n");
