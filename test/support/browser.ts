/**
 * Headless Chromium (Debian's package at /usr/bin/chromium) driven by playwright-core, with the
 * flags that keep it off the network (playwright gives every launch a fresh temporary profile). Console errors and page errors are collected for assertions.
 */
import { chromium, type Browser, type Page } from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync",
    ],
  });
}

export function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(e.message));
  return errors;
}

/**
 * Content-Security-Policy violations of a page and its Web Workers: the `securitypolicyviolation`
 * events the browser fires (listened for by a script Playwright injects, which the policy does not
 * govern) and the "Refused to …" messages Chromium logs. Call before navigating.
 */
export async function watchCsp(page: Page): Promise<string[]> {
  const violations: string[] = [];
  const onConsole = (m: { text(): string }) => {
    if (/Content Security Policy/i.test(m.text())) violations.push(`console: ${m.text()}`);
  };
  page.on("console", onConsole);
  page.on("worker", (w) => w.on("console", onConsole));
  await page.exposeFunction("__reportCspViolation", (v: string) => violations.push(`event: ${v}`));
  await page.addInitScript(() => {
    const w = globalThis as any; // the page's window (tsc here has no DOM lib)
    w.document.addEventListener("securitypolicyviolation", (e: any) => w.__reportCspViolation(`${e.effectiveDirective} blocked ${e.blockedURI || "inline"}`));
  });
  return violations;
}
