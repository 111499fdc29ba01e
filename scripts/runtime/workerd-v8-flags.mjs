#!/usr/bin/env node
/**
 * workerd-v8-flags.mjs FLAG…: copies workerd's binary Cap'n Proto config from stdin to stdout with
 * `v8Flags` set to the given flags. Miniflare 4.20260426 (the last release that runs on Node 20)
 * has no way to pass V8 flags to workerd; scripts/runtime/workerd.sh runs this on the config
 * Miniflare writes to workerd's stdin. Used for `--single-threaded-gc` (see workerd.sh for why).
 *
 * The config is a Cap'n Proto message in the stream framing: a segment table, then the segments;
 * the root pointer (segment 0, word 0) points at the `Config` struct, whose third pointer field is
 * `v8Flags :List(Text)` (workerd.capnp `v8Flags @2`; Miniflare leaves it null). The flags go into a
 * new last segment — a landing pad, a list of text pointers, the NUL-terminated strings — and the
 * null pointer becomes a far pointer to the landing pad. Nothing else in the message moves, so no
 * other pointer changes. A config that already has v8Flags, or is not shaped as expected, passes
 * through unchanged (with a warning on stderr).
 */
import { readFileSync, writeSync } from "node:fs";

const flags = process.argv.slice(2);
const input = readFileSync(0);

function patch(buf, flags) {
  const u32 = (o) => buf.readUInt32LE(o);
  const nseg = u32(0) + 1;
  const headerBytes = Math.ceil((4 * (1 + nseg)) / 8) * 8;
  const sizes = Array.from({ length: nseg }, (_, i) => u32(4 + 4 * i));
  if (headerBytes + 8 * sizes.reduce((a, b) => a + b, 0) !== buf.length) throw new Error("not a single Cap'n Proto message");
  const seg0 = headerBytes;
  const lo = u32(seg0);
  const hi = u32(seg0 + 4);
  if ((lo & 3) !== 0) throw new Error("the root pointer is not a struct pointer");
  const offset = lo >> 2; // signed words after the pointer
  const dataWords = hi & 0xffff;
  const ptrCount = hi >>> 16;
  if (ptrCount < 3) throw new Error(`the root struct has ${ptrCount} pointers, not Config's`);
  const slot = seg0 + 8 * (1 + offset + dataWords + 2);
  if (buf.readBigUInt64LE(slot) !== 0n) throw new Error("v8Flags is already set");
  if (flags.length === 0) return buf;

  // the new segment: [landing pad][n text pointers][texts, each NUL-terminated and word-padded]
  const texts = flags.map((f) => Buffer.from(f + "\0", "utf8"));
  const textWords = texts.map((t) => Math.ceil(t.length / 8));
  const words = 1 + flags.length + textWords.reduce((a, b) => a + b, 0);
  const seg = Buffer.alloc(8 * words);
  const listPtr = (at, off, elemSize, count) => {
    seg.writeUInt32LE(((off << 2) | 1) >>> 0, 8 * at);
    seg.writeUInt32LE(((count << 3) | elemSize) >>> 0, 8 * at + 4);
  };
  listPtr(0, 0, 6, flags.length); // landing pad: a list of pointers starting right after it
  let next = 1 + flags.length;
  texts.forEach((t, i) => {
    listPtr(1 + i, next - (1 + i + 1), 2, t.length); // bytes, NUL included
    t.copy(seg, 8 * next);
    next += textWords[i];
  });

  const nseg2 = nseg + 1;
  const header2 = Buffer.alloc(Math.ceil((4 * (1 + nseg2)) / 8) * 8);
  header2.writeUInt32LE(nseg2 - 1, 0);
  [...sizes, words].forEach((s, i) => header2.writeUInt32LE(s, 4 + 4 * i));
  const body = Buffer.from(buf.subarray(headerBytes));
  // far pointer (kind 2, single landing pad at word 0) into the new segment
  body.writeUInt32LE(2, slot - headerBytes);
  body.writeUInt32LE(nseg, slot - headerBytes + 4);
  return Buffer.concat([header2, body, seg]);
}

let out;
try {
  out = patch(input, flags);
} catch (e) {
  process.stderr.write(`workerd-v8-flags: config left as it is (${e.message})\n`);
  out = input;
}
for (let off = 0; off < out.length; ) off += writeSync(1, out, off);
