/**
 * @module test-hooks
 * Test-only failure injection, inert unless the worker has a `HEADSCOPE_TEST_HOOKS` binding — which
 * no deployment has (wrangler.toml never declares it); the CLI's embedded worker gets it only when
 * the environment variable of that name is set, as the reliability tests do. The value is a list
 * of `ACTION:PATH-SUFFIX` separated by `;`. A POST or PUT whose path ends with the suffix then:
 *
 * - `stall`: never finishes (waits on a timer forever, so workerd does not cancel it as hung) —
 *   the isolate stays free for other requests;
 * - `spin`: burns CPU for ever without yielding — a runaway request that blocks the isolate, which
 *   only the CPU limit can stop.
 *
 * The server-side scan's queue consumer applies the same hooks to each head it computes, matched
 * against the path the head would have as a request (`/v1/models/M/layers/L/heads/H/qk`).
 */
import type { MiddlewareHandler } from "hono";

type HookEnv = { HEADSCOPE_TEST_HOOKS?: string } | undefined;

/** Runs the hooks that match path (returns at once when none does, or without the binding). */
async function applyHooks(env: HookEnv, path: string): Promise<void> {
  const spec = env?.HEADSCOPE_TEST_HOOKS;
  if (!spec) return;
  for (const hook of spec.split(";")) {
    const i = hook.indexOf(":");
    const action = hook.slice(0, i);
    const suffix = hook.slice(i + 1);
    if (!suffix || !path.endsWith(suffix)) continue;
    if (action === "stall") {
      for (;;) await new Promise((r) => setTimeout(r, 60_000));
    }
    if (action === "spin") {
      let x = 0;
      for (;;) x = (x + 1) | 0;
    }
  }
}

export const testHooks: MiddlewareHandler = async (c, next) => {
  if (c.req.method === "POST" || c.req.method === "PUT") await applyHooks(c.env as HookEnv, new URL(c.req.url).pathname);
  return next();
};

/** The queue consumer's hook point: `path` is the head's request path. */
export const consumerTestHook = (env: object, path: string): Promise<void> => applyHooks(env as HookEnv, path);
