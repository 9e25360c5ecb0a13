// One streamed request through clearway with an official SDK, configured the
// way the README tells users: ANTHROPIC_BASE_URL + ANTHROPIC_API_KEY (or
// ANTHROPIC_AUTH_TOKEN), or OPENAI_BASE_URL + OPENAI_API_KEY, and the SDK's
// default retry settings. Prints one JSON line: {"ok":true,"text":...} or
// {"ok":false,"status":...,"name":...,"message":...}.
//
// usage: node sdk-client.mjs anthropic|openai
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';

const which = process.argv[2];

async function anthropic() {
  const client = new Anthropic(); // reads ANTHROPIC_BASE_URL, ANTHROPIC_API_KEY / ANTHROPIC_AUTH_TOKEN
  const stream = await client.messages.create({
    model: 'claude-sonnet-4-6',
    max_tokens: 256,
    messages: [{ role: 'user', content: 'Say the test sentence.' }],
    stream: true,
  });
  let text = '';
  for await (const ev of stream) {
    if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') text += ev.delta.text;
  }
  return text;
}

async function openai() {
  const client = new OpenAI(); // reads OPENAI_BASE_URL, OPENAI_API_KEY
  const stream = await client.chat.completions.create({
    model: 'gpt-4o',
    messages: [{ role: 'user', content: 'Say the test sentence.' }],
    stream: true,
  });
  let text = '';
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? '';
  }
  return text;
}

try {
  const text = which === 'anthropic' ? await anthropic() : which === 'openai' ? await openai() : null;
  if (text === null) throw new Error('usage: node sdk-client.mjs anthropic|openai');
  console.log(JSON.stringify({ ok: true, text }));
} catch (err) {
  // What the SDK shows its user: the error's class name and message.
  // undici's "terminated" keeps the socket's reason in err.cause.
  const cause = err.cause ? String(err.cause.code ?? '') + ' ' + String(err.cause.message ?? err.cause) : '';
  console.log(JSON.stringify({ ok: false, status: err.status ?? 0, name: err.constructor?.name ?? 'Error', message: String(err.message ?? err), cause: cause.trim() }));
}
