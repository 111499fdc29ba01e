/**
 * @module toy/optimizer
 * AdamW (Loshchilov & Hutter 2019; PyTorch's `torch.optim.AdamW` update order) with a linear warm-up
 * and cosine decay of the learning rate, and decoupled weight decay applied only to the parameters
 * named in `decay`. It updates Float64Arrays in place and knows nothing about the model.
 */

export interface AdamWOptions {
  learningRate: number;
  /** final learning rate as a fraction of the peak */
  minLrFraction: number;
  warmupSteps: number;
  totalSteps: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  weightDecay: number;
}

/** Learning rate at 0-based step `t`: linear warm-up, then cosine from the peak to `peak · minLrFraction`. */
export function learningRateAt(t: number, o: AdamWOptions): number {
  if (t < o.warmupSteps) return (o.learningRate * (t + 1)) / o.warmupSteps;
  const span = Math.max(1, o.totalSteps - o.warmupSteps);
  const progress = Math.min(1, (t - o.warmupSteps) / span);
  const floor = o.learningRate * o.minLrFraction;
  return floor + 0.5 * (o.learningRate - floor) * (1 + Math.cos(Math.PI * progress));
}

export class AdamW<Name extends string> {
  private readonly m = new Map<Name, Float64Array>();
  private readonly v = new Map<Name, Float64Array>();
  private t = 0;

  constructor(
    private readonly options: AdamWOptions,
    private readonly decay: ReadonlySet<Name>,
  ) {}

  /** One update of every parameter from its gradient; returns the learning rate used. */
  step(params: Record<Name, Float64Array>, grads: Record<Name, Float64Array>): number {
    const o = this.options;
    const lr = learningRateAt(this.t, o);
    this.t++;
    const c1 = 1 - Math.pow(o.beta1, this.t);
    const c2 = 1 - Math.pow(o.beta2, this.t);
    for (const name of Object.keys(params) as Name[]) {
      const p = params[name];
      const g = grads[name];
      let m = this.m.get(name);
      let v = this.v.get(name);
      if (!m || !v) {
        m = new Float64Array(p.length);
        v = new Float64Array(p.length);
        this.m.set(name, m);
        this.v.set(name, v);
      }
      const shrink = this.decay.has(name) ? 1 - lr * o.weightDecay : 1;
      for (let i = 0; i < p.length; i++) {
        const gi = g[i];
        m[i] = o.beta1 * m[i] + (1 - o.beta1) * gi;
        v[i] = o.beta2 * v[i] + (1 - o.beta2) * gi * gi;
        p[i] = p[i] * shrink - (lr * (m[i] / c1)) / (Math.sqrt(v[i] / c2) + o.epsilon);
      }
    }
    return lr;
  }
}
