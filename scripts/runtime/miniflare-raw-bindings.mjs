/**
 * A Miniflare plugin (loaded through `unsafeBindings`) that gives a worker a raw service binding to
 * one of Miniflare's own services, such as the service behind an R2 bucket (`r2:bucket:<id>`) or a KV
 * namespace (`kv:ns:<id>`). Miniflare's options only bind user workers; the storage proxy
 * (storage-proxy.worker.mjs) needs the storage services themselves. Pinned to the miniflare version
 * in package.json: the service names are Miniflare's.
 */
export const plugins = {
  "headscope-raw-service": {
    options: undefined,
    getBindings: (bindings) => (bindings ?? []).map((b) => ({ name: b.name, service: { name: b.options.service } })),
    getNodeBindings: () => ({}),
    getServices: async () => [],
  },
};
