/**
 * @module test-hooks
 * Test-only failure injection, inert unless the worker has a `HEADSCOPE_TEST_HOOKS` binding — which
 * no deployment has (wrangler.toml never declares it); the CLI's embedded worker gets it only when
 * the environment variable of that name is set, as the reliability tests do. The value is a list
 * of `ACTION:PATH-SUFFIX` separated by `;`. A POST whose path ends with the suffix then:
 *
 * - `stall`: never finishes (waits on a timer forever, so workerd does not cancel it as hung) —
 *   the isolate stays free for other requests;
 * - `spin`: burns CPU for ever without yielding — a runaway request that blocks the isolate, which
 *   only the CPU limit can stop.
 */
import type { MiddlewareHandler } from "hono";

export const testHooks: MiddlewareHandler = async (c, next) => {
  const spec = (c.env as { HEADSCOPE_TEST_HOOKS?: string } | undefined)?.HEADSCOPE_TEST_HOOKS;
  if (!spec || c.req.method !== "POST") return next();
  const path = new URL(c.req.url).pathname;
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
  return next();
};
