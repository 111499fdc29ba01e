/** The demo client bundle, imported as text (wrangler rule "Text" in wrangler.toml). */
declare module "*/demo-client.js" {
  const source: string;
  export default source;
}
