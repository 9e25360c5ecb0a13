// Package usage reads token counts out of LLM API answers as they stream past
// (Anthropic Messages, OpenAI Chat Completions and Responses; JSON and
// Server-Sent Events; gzip, deflate and br bodies), names the client
// application behind a request, and prices tokens from an embedded table that
// the config can override. It holds the Record that the proxy hands to a
// Recorder once per finished request, and the Row shape that usage queries
// return. Nothing here does I/O beyond the body it is given.
package usage
