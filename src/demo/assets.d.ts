/** The demo client bundle, imported as text (wrangler rule "Text" in wrangler.toml). */
declare module "*/demo-client.js" {
  const source: string;
  export default source;
}

/** The toy model's Web Worker bundle (kernels inlined), imported as text (same rule). */
declare module "*/toy-worker.js" {
  const source: string;
  export default source;
}
