/**
 * @module cli/progress
 * Progress of a scan on stderr: a cli-progress bar with rate and ETA on a terminal, plain lines
 * (every 10 % or 5 s) when stderr is not a TTY or CI is set, nothing with --quiet.
 */
import cliProgress from "cli-progress";

export interface Counts {
  computed: number;
  stored: number;
  failed: number;
  retries: number;
}

export interface Progress {
  update(done: number, c: Counts): void;
  log(line: string): void;
  stop(): void;
}

export function createProgress(total: number, mode: "auto" | "bar" | "plain" | "quiet" = "auto"): Progress {
  const tty = Boolean(process.stderr.isTTY) && !process.env.CI;
  const m = mode === "auto" ? (tty ? "bar" : "plain") : mode;
  const start = Date.now();
  if (m === "quiet") return { update() {}, log() {}, stop() {} };
  if (m === "bar") {
    const bar = new cliProgress.SingleBar(
      {
        format: "scan {bar} {value}/{total} | {rate}/s | ETA {eta_formatted} | computed {computed} · stored {stored} · failed {failed}",
        stream: process.stderr,
        hideCursor: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { rate: "0", computed: 0, stored: 0, failed: 0 });
    return {
      update(done, c) {
        const rate = done / Math.max((Date.now() - start) / 1000, 1e-3);
        bar.update(done, { rate: rate.toFixed(1), ...c });
      },
      log(line) {
        bar.stop();
        process.stderr.write(line + "\n");
        bar.start(total, (bar as unknown as { value: number }).value);
      },
      stop: () => bar.stop(),
    };
  }
  let lastPct = -1;
  let lastT = 0;
  return {
    update(done, c) {
      const pct = Math.floor((100 * done) / Math.max(total, 1));
      const now = Date.now();
      if (done !== total && Math.floor(pct / 10) === Math.floor(lastPct / 10) && now - lastT < 5000) return;
      lastPct = pct;
      lastT = now;
      const secs = (now - start) / 1000;
      const rate = done / Math.max(secs, 1e-3);
      const eta = rate > 0 ? (total - done) / rate : 0;
      process.stderr.write(
        `scan ${done}/${total} (${pct}%) ${rate.toFixed(1)}/s ETA ${eta.toFixed(0)}s computed ${c.computed} stored ${c.stored} failed ${c.failed}\n`,
      );
    },
    log: (line) => process.stderr.write(line + "\n"),
    stop() {},
  };
}
