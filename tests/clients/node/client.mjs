// Usage: node client.mjs BASE_URL MODEL [EXTRA_BODY_JSON] [PROMPT]
// Prints one JSON line with what the official openai npm SDK saw, stream and non-stream.
// EXTRA_BODY_JSON is merged into both requests (the SDK sends unknown params as they are).
import OpenAI from "openai";

const [baseURL, model, extraJson, prompt] = process.argv.slice(2);
const extra = JSON.parse(extraJson || "{}");
const client = new OpenAI({ baseURL, apiKey: "unused", maxRetries: 0, timeout: 600_000 });
const messages = [{ role: "user", content: prompt || "Write a Python function add(a, b)." }];

const maxTokens = extra.max_tokens ?? 24;
const whole = await client.chat.completions.create({
  model, messages, max_tokens: maxTokens, temperature: 0, ...extra,
});
let streamed = "";
let reasoning = "";
let usage = null;
let finish = null;
const stream = await client.chat.completions.create({
  model, messages, max_tokens: maxTokens, temperature: 0, stream: true,
  stream_options: { include_usage: true }, ...extra,
});
for await (const chunk of stream) {
  if (chunk.usage) usage = chunk.usage;
  for (const choice of chunk.choices) {
    streamed += choice.delta?.content ?? "";
    reasoning += choice.delta?.reasoning_content ?? "";
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
  whole: whole.choices[0].message.content, wholeUsage: whole.usage, streamed, reasoning, usage, finish,
  notFound, models,
}));
