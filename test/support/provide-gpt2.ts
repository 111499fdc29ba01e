/**
 * Global setup of the `workers` project: tests inside workerd cannot read files, so real GPT-2
 * request bodies and their reference spectra are prepared here in Node and passed in with provide().
 */
import type { TestProject } from "vitest/node";
import { gpt2Head, headBody, spectraReference } from "./gpt2";

const b64 = (u: Uint8Array) => Buffer.from(u).toString("base64");

export default function setup(project: TestProject) {
  const head = gpt2Head(0, 1);
  const ref = spectraReference().heads.find((h) => h.layer === 0 && h.head === 1)!;
  project.provide("gpt2L0H1", {
    qk: b64(headBody(head, "qk")),
    qkNoLn: b64(headBody(head, "qk", { ln: false, bias: false })),
    ov: b64(headBody(head, "ov")),
    reference: { qk: ref.qk, ov: ref.ov },
  });
}

declare module "vitest" {
  export interface ProvidedContext {
    gpt2L0H1: {
      qk: string;
      qkNoLn: string;
      ov: string;
      reference: { qk: Record<string, number[]>; ov: Record<string, number[]> };
    };
  }
}
