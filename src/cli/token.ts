/**
 * @module cli/token
 * What the CLI says when a worker refuses its write token. A wrong token fails every write the same
 * way, so the first 401 stops the whole command with one message about the token (where it comes
 * from and how to set it) instead of one failure per head. The token itself is never printed.
 */

/** The first 401 of a command: it stops everything (fan-out.ts aborts what is in flight). */
export class TokenRejected extends Error {
  override name = "TokenRejected";
  constructor(readonly endpoint: string | undefined, readonly detail: string) {
    super(tokenRejectedMessage(endpoint, detail));
  }
}

export function tokenRejectedMessage(endpoint: string | undefined, detail: string): string {
  const where = endpoint ? `the worker at ${endpoint}` : "the worker";
  const source = process.argv.some((a) => a === "--token" || a.startsWith("--token=")) ? "--token" : "HEADSCOPE_TOKEN";
  return (
    `${where} refused the write token (401 unauthorized: ${detail.replace(/\s+$/, "")}). ` +
    `The token came from ${source}; set HEADSCOPE_TOKEN to the worker's token (a deployment's is the secret set with ` +
    "`npx wrangler secret put HEADSCOPE_TOKEN`; `npm start` prints its own) and run the command again. " +
    "Stopped at the first refusal; nothing else was sent."
  );
}

/**
 * Hides a `--token T` given on the command line from `ps` for the rest of the run: Node's
 * process.title rewrites the argument area that /proc/PID/cmdline reads on Linux, so the command
 * line becomes the same with the token replaced by `***`. The shell that started the command (and
 * npm, for `npm run … -- --token T`) still shows it: HEADSCOPE_TOKEN is the way to keep it private.
 * @returns whether a token argument was found
 */
export function maskTokenArgument(argv: readonly string[] = process.argv): boolean {
  let found = false;
  const masked = argv.map((a, i) => {
    if (argv[i - 1] === "--token") return (found = true), "***";
    if (a.startsWith("--token=")) return (found = true), "--token=***";
    return a;
  });
  if (found) process.title = masked.join(" ");
  return found;
}
