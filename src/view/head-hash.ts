/** @module view/head-hash The selected head in the URL: `#model/layer/head`, so a link reopens it. */

export interface HeadRef {
  model: string;
  layer: number;
  head: number;
}

/** `#gpt2-small/5/3` → { model, layer 5, head 3 }; anything else → undefined. */
export function parseHeadHash(hash: string): HeadRef | undefined {
  const m = /^#?([A-Za-z0-9][A-Za-z0-9._-]{0,127})\/(\d{1,6})\/(\d{1,6})$/.exec(decodeURIComponent(hash));
  return m ? { model: m[1], layer: Number(m[2]), head: Number(m[3]) } : undefined;
}

export const headHash = (r: HeadRef) => `#${r.model}/${r.layer}/${r.head}`;
