import { Gpt } from "gpt-cuda";

// A checkpoint directory or a pulled model's name; none: the small demo model the package ships.
const gpt = await Gpt.load(process.argv[2], { device: "auto" });
console.log(`${gpt.config.nLayer} layers, ${gpt.config.vocabSize} tokens, on ${gpt.device}`);

const result = await gpt.generate("The meaning of life is", { maxTokens: 20, temperature: 0.8, seed: 42 });
console.log(result.text);
console.log(`${result.usage.completionTokens} tokens, finished by ${result.finishReason}`);

for await (const { text } of gpt.stream("Once upon a time", { maxTokens: 16, temperature: 0 })) {
  process.stdout.write(text);
}
process.stdout.write("\n");
gpt.dispose();
