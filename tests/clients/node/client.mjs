// Usage: node client.mjs BASE_URL MODEL
// Prints one JSON line with what the official openai npm SDK saw, stream and non-stream.
import OpenAI from "openai";

const [baseURL, model] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: "unused", maxRetries: 0, timeout: 600_000 });
const messages = [{ role: "user", content: "Write a Python function add(a, b)." }];

const whole = await client.chat.completions.create({ model, messages, max_tokens: 24, temperature: 0 });
let streamed = "";
let usage = null;
let finish = null;
const stream = await client.chat.completions.create({
  model, messages, max_tokens: 24, temperature: 0, stream: true,
  stream_options: { include_usage: true },
});
for await (const chunk of stream) {
  if (chunk.usage) usage = chunk.usage;
  for (const choice of chunk.choices) {
    streamed += choice.delta?.content ?? "";
    finish = choice.finish_reason ?? finish;
  }
}
let notFound = null;
try {
  await client.chat.completions.create({ model: "no-such-model", messages });
} catch (err) {
  notFound = { status: err.status, code: err.code ?? err.error?.code };
}
const models = (await client.models.list()).data.map((m) => m.id);
console.log(JSON.stringify({
  whole: whole.choices[0].message.content, wholeUsage: whole.usage, streamed, usage, finish,
  notFound, models,
}));
