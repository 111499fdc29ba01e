/**
 * Global setup of the `workers` project: tests inside workerd cannot read files, so real GPT-2
 * request bodies and their reference spectra are prepared here in Node and passed in with provide().
 */
import type { TestProject } from "vitest/node";
import type { SadReference } from "./gpt2";
import { encodeSafetensors } from "../../src/wire/safetensors";
import { D_HEAD, D_MODEL, gpt2Head, headBody, positionTokens, sadReference, spectraReference } from "./gpt2";

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

  // SAD on layer 0's positional input (shared/reference/gpt2-small-sad-L0-positions.json), head 7:
  // X = ln_1(wpe[p]) for p < 128 in F64, sent without the bias coordinate (the endpoint appends it) and
  // with it ([1, 128, 769]); the unfolded, bias-augmented weights; the reference row and term vectors.
  const SAD_HEAD = 7;
  const sadHead = gpt2Head(0, SAD_HEAD);
  const xAug = positionTokens(0, 128);
  const xPlain = positionTokens(0, 128, false);
  const sadRef = sadReference();
  project.provide("gpt2SadL0", {
    head: SAD_HEAD,
    withWeights: b64(
      encodeSafetensors({
        X: { dtype: "F64", shape: [128, D_MODEL], data: xPlain },
        W_Q: { dtype: "F32", shape: [D_MODEL, D_HEAD], data: sadHead.W_Q },
        W_K: { dtype: "F32", shape: [D_MODEL, D_HEAD], data: sadHead.W_K },
        b_Q: { dtype: "F32", shape: [D_HEAD], data: sadHead.b_Q },
        b_K: { dtype: "F32", shape: [D_HEAD], data: sadHead.b_K },
      }),
    ),
    tokensOnly: b64(encodeSafetensors({ X: { dtype: "F64", shape: [1, 128, D_MODEL + 1], data: xAug } })),
    qkRawAugmented: b64(headBody(sadHead, "qk", { ln: false })),
    reference: sadRef.heads.find((h) => h.head === SAD_HEAD)!,
    examples: sadRef.examples.filter((e) => e.head === SAD_HEAD),
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
    gpt2SadL0: {
      head: number;
      /** X [128, 768] F64 with W_Q, W_K, b_Q, b_K */
      withWeights: string;
      /** X [1, 128, 769] F64 only */
      tokensOnly: string;
      /** POST …/qk body giving the raw_augmented SVD */
      qkRawAugmented: string;
      reference: SadReference["heads"][number];
      examples: SadReference["examples"];
    };
  }
}
