/**
 * The storage proxy of the embedded local worker's primary process (src/cli/local-worker.ts): when
 * the local worker runs on several workerd processes, only the primary owns the local R2 bucket and
 * KV namespace (Miniflare keeps them in a SQLite-backed Durable Object, which one process must own),
 * and the others reach them through Miniflare's own remote-binding client
 * (`remoteProxyConnectionString`). That client sends each binding call as workerd's native storage
 * protocol over HTTP, with the original headers prefixed `MF-Header-`, the original URL in `MF-URL`
 * and the binding's name in `MF-Binding` (miniflare's remote-bindings-utils makeFetch). This worker
 * hands the request, restored, to the same storage service the primary's own bindings use (a raw
 * service binding `RAW_<binding>`), so every process reads and writes one consistent store.
 *
 * It listens on loopback only, and answers only requests whose URL carries the key it was started
 * with (the connection string given to the other processes), so no other local user can write
 * through it.
 */
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.searchParams.get("key") !== env.PROXY_KEY) return new Response("forbidden", { status: 403 });
    const binding = request.headers.get("MF-Binding");
    const target = binding ? env[`RAW_${binding}`] : undefined;
    if (!target) return new Response(`no storage binding ${binding}`, { status: 404 });
    const headers = new Headers();
    for (const [name, value] of request.headers) if (name.startsWith("mf-header-")) headers.set(name.slice("mf-header-".length), value);
    return target.fetch(new Request(request.headers.get("MF-URL"), { method: request.method, headers, body: request.body }));
  },
};
