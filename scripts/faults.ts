/**
 * `npm run faults`: crash the worker in the middle of writes, restart, resume, and compare the
 * stored state with an uninterrupted run's (byte for byte), then check for orphans.
 */
import { runWriteFault } from "./faults/write-fault";
import { handleUsage } from "./usage.mjs";

handleUsage(`npm run faults

SIGKILLs the local worker in the middle of writes (after 1/4, 1/2 and 3/4 of the heads), restarts it
on the same state, re-posts, and compares the persisted R2 and KV with an uninterrupted run.

Environment: FAULT_HEADS (heads per run, default 96).`, { flags: {}, positionals: 0 });

const heads = Number(process.env.FAULT_HEADS ?? 96);
let failed = false;
for (const killAfter of [Math.floor(heads / 4), Math.floor(heads / 2), Math.floor((3 * heads) / 4)]) {
  const r = await runWriteFault({ heads, killAfter, concurrency: 8 });
  const ok = r.differences.length === 0 && r.consistency.dangling === 0 && r.consistency.orphans.length === 0 && r.consistency.shared.length === 0 && r.consistency.summaries === heads && r.consistency.objects === heads;
  failed ||= !ok;
  console.log(
    `write crash after ${killAfter}/${heads} answers: before ${JSON.stringify(r.beforeCrash)}, resume ${JSON.stringify(r.resume)}; ` +
      `stored ${r.consistency.summaries} summaries / ${r.consistency.objects} objects (${r.stored.kv} KV keys with the model marker); ${r.differences.length} differences from the uninterrupted run; ` +
      `${r.consistency.orphans.length} orphaned, ${r.consistency.dangling} dangling — ${ok ? "PASS" : "FAIL"}`,
  );
  for (const d of r.differences.slice(0, 5)) console.log(`  ${d}`);
}
process.exitCode = failed ? 1 : 0;
