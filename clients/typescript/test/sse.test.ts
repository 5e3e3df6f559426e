import assert from "node:assert/strict";
import { test } from "node:test";
import { SseParser, type SseMessage } from "../src/index.js";

function parse(...chunks: string[]): { messages: SseMessage[]; comments: string[]; parser: SseParser } {
  const messages: SseMessage[] = [];
  const comments: string[] = [];
  const parser = new SseParser((m) => messages.push(m), (c) => comments.push(c));
  for (const chunk of chunks) parser.push(chunk);
  return { messages, comments, parser };
}

test("events, ids, comments and retry, as the gateway sends them", () => {
  const { messages, comments, parser } = parse(": cartsync\r\nretry: 2000\r\n\r\n", 'id: ab.1\r\nevent: cart\r\ndata: {"id":"c"}\r\n\r\n');
  assert.deepEqual(comments, ["cartsync"]);
  assert.equal(parser.retry, 2000);
  assert.deepEqual(messages, [{ event: "cart", data: '{"id":"c"}', id: "ab.1" }]);
});

test("any split of the stream gives the same events", () => {
  const text = '\uFEFFevent: cart\nid: 1.2\ndata: {"a":\ndata:  1}\n\n:keep-alive\r\rdata: x\r\n\r\nevent: cart\r\ndata: y\r\n\r\n';
  const whole = parse(text).messages;
  assert.deepEqual(whole, [
    { event: "cart", data: '{"a":\n 1}', id: "1.2" },
    { event: "message", data: "x", id: "1.2" },
    { event: "cart", data: "y", id: "1.2" },
  ]);
  for (let i = 0; i <= text.length; i++) {
    assert.deepEqual(parse(text.slice(0, i), text.slice(i)).messages, whole, `split at ${i}`);
  }
  assert.deepEqual(parse(...text.split("")).messages, whole, "one character at a time");
});

test("a block without data dispatches nothing; an unfinished event is not dispatched", () => {
  const { messages, parser } = parse("event: cart\nid: 7.1\n\n", "data: half");
  assert.deepEqual(messages, []);
  assert.equal(parser.lastEventId, "7.1");
  assert.equal(parse("retry: soon\n\n").parser.retry, undefined);
});
