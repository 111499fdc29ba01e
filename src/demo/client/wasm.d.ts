/** In the browser bundles, .wasm files are inlined as bytes (esbuild --loader:.wasm=binary). */
declare module "*.wasm" {
  const bytes: Uint8Array<ArrayBuffer>;
  export default bytes;
}
