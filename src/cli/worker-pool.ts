/**
 * @module cli/worker-pool
 * The embedded local worker on several workerd processes, seen by the fan-out as one worker. The
 * primary owns the storage and does the storage work of every process, so head requests go to the
 * other processes, each to the one with the fewest in flight (ties rotate); the primary takes them
 * only while no other process can (all restarting). Measured on the Llama-3-8B shape: when the primary
 * computed too, the others' writes queued behind its SVDs, and it ended with 72% of the heads. Each
 * process keeps its own CPU-limit supervisor, so a runaway request restarts only its process, and an
 * answer from any process is progress for the primary: the storage it does for the others burns its
 * CPU without answers of its own.
 */
import type { CpuLimitSupervisor } from "./cpu-limit";
import type { InFlight, WorkerSupervision } from "./fan-out";

export interface PoolMember {
  /** the process's URL, no trailing slash */
  origin: string;
  supervisor: CpuLimitSupervisor;
}

interface PooledFlight extends InFlight {
  member: number;
}

export class WorkerPool implements WorkerSupervision {
  private readonly load: number[];
  /** requests given to each process so far */
  readonly served: number[];
  private next = 0;

  /** members[0] is the primary (the one that owns the storage) */
  constructor(private readonly members: PoolMember[]) {
    this.load = members.map(() => 0);
    this.served = members.map(() => 0);
  }

  async ready(): Promise<void> {
    // every request needs the primary's storage; begin() then picks a process that is not restarting
    await this.members[0].supervisor.ready();
  }

  begin(): InFlight {
    // among the processes other than the primary, fewest in flight; ties rotate
    const others = this.members.length - 1;
    let best = -1;
    for (let k = 0; k < others; k++) {
      const i = 1 + ((this.next + k) % others);
      if (this.members[i].supervisor.isRestarting) continue;
      if (best < 0 || this.load[i] < this.load[best]) best = i;
    }
    if (best < 0) best = 0; // every other process is restarting (or there is none): the primary serves
    else this.next = best % others;
    const member = this.members[best];
    const inner = member.supervisor.begin();
    this.load[best]++;
    this.served[best]++;
    const flight: PooledFlight = {
      id: inner.id,
      member: best,
      origin: member.origin,
      end: (answered) => {
        this.load[best]--;
        inner.end(answered);
        if (answered && best !== 0) this.members[0].supervisor.progress();
      },
    };
    return flight;
  }

  explainLoss(r: InFlight) {
    const m = (r as PooledFlight).member;
    return m === undefined ? undefined : this.members[m].supervisor.explainLoss(r);
  }
}
