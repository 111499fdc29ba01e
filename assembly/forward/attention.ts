/**
 * @module forward/attention
 * Causal multi-head attention of a batch of prompts stacked without padding: prompt b owns rows
 * offsets[b] … offsets[b+1] − 1 of the fused qkv buffer [N, (n_heads + 2·n_kv)·d_head] laid out
 * [Q heads | K heads | V heads], and its positions count from 0. A prompt's tokens only ever meet its
 * own tokens, so prompts of different lengths need no padding and nothing leaks between them.
 * Query head h reads key/value head h ÷ (n_heads / n_kv) (grouped-query attention). Scores
 * scale·q·k accumulate in float64, softmax and the weighted sum of values too; the result z
 * [N, n_heads·d_head] is f32. `window` > 0 restricts query d to keys s with d − s < window (GPT-Neo's
 * local layers); 0 is global.
 *
 * Rotary embeddings (`rotaryF32`, GPT-NeoX and Llama convention "rotate_half"): within the first
 * `rot` dimensions of every Q and K head, dimension i < rot/2 pairs with i + rot/2 and is rotated by
 * the angle (p / posScale)·base^(−2i/rot) at position p: x ← x·cos + rotate_half(x)·sin.
 */

/** f64 workspace attentionF32 needs for prompts of at most tMax tokens. */
export function attentionWorkspace(tMax: i32, dh: i32): i32 {
  return tMax + dh;
}

export function attentionF32(
  nb: i32, offsets: usize, qkv: usize, ld: i32, nH: i32, nKv: i32, dh: i32, scale: f64, window: i32,
  z: usize, ldz: i32, work: usize,
): void {
  const group = nH / nKv;
  const row = <usize>ld << 2;
  const rowZ = <usize>ldz << 2;
  const acc = work; // [dh] f64
  const p = work + (<usize>dh << 3); // [T] f64
  for (let b = 0; b < nb; b++) {
    const t0 = load<i32>(offsets + (<usize>b << 2));
    const T = load<i32>(offsets + (<usize>(b + 1) << 2)) - t0;
    const base = qkv + <usize>t0 * row;
    for (let h = 0; h < nH; h++) {
      const kv = h / group;
      const qo = <usize>(h * dh) << 2;
      const ko = <usize>((nH + kv) * dh) << 2;
      const vo = <usize>((nH + nKv + kv) * dh) << 2;
      for (let i = 0; i < T; i++) {
        const q = base + <usize>i * row + qo;
        const lo = window > 0 ? max(0, i - window + 1) : 0;
        let mx: f64 = -Infinity;
        for (let j = lo; j <= i; j++) {
          const kp = base + <usize>j * row + ko;
          let s: f64 = 0;
          for (let c = 0; c < dh; c++) s += <f64>load<f32>(q + (<usize>c << 2)) * <f64>load<f32>(kp + (<usize>c << 2));
          s *= scale;
          store<f64>(p + (<usize>j << 3), s);
          if (s > mx) mx = s;
        }
        let sum: f64 = 0;
        for (let j = lo; j <= i; j++) {
          const e = Math.exp(load<f64>(p + (<usize>j << 3)) - mx);
          store<f64>(p + (<usize>j << 3), e);
          sum += e;
        }
        for (let c = 0; c < dh; c++) store<f64>(acc + (<usize>c << 3), 0);
        for (let j = lo; j <= i; j++) {
          const w = load<f64>(p + (<usize>j << 3)) / sum;
          const vp = base + <usize>j * row + vo;
          for (let c = 0; c < dh; c++) {
            const a = acc + (<usize>c << 3);
            store<f64>(a, load<f64>(a) + w * <f64>load<f32>(vp + (<usize>c << 2)));
          }
        }
        const zr = z + <usize>(t0 + i) * rowZ + (<usize>(h * dh) << 2);
        for (let c = 0; c < dh; c++) store<f32>(zr + (<usize>c << 2), <f32>load<f64>(acc + (<usize>c << 3)));
      }
    }
  }
}

/** f64 workspace rotaryF32 needs. */
export function rotaryWorkspace(rot: i32): i32 {
  return rot;
}

export function rotaryF32(
  nb: i32, offsets: usize, qkv: usize, ld: i32, nH: i32, nKv: i32, dh: i32, rot: i32, base: f64, posScale: f64,
  work: usize,
): void {
  const half = rot >> 1;
  const row = <usize>ld << 2;
  const heads = nH + nKv; // the Q heads and then the K heads are contiguous
  for (let b = 0; b < nb; b++) {
    const t0 = load<i32>(offsets + (<usize>b << 2));
    const T = load<i32>(offsets + (<usize>(b + 1) << 2)) - t0;
    for (let pos = 0; pos < T; pos++) {
      for (let i = 0; i < half; i++) {
        const angle = (<f64>pos / posScale) * Math.pow(base, -<f64>(2 * i) / <f64>rot);
        store<f64>(work + (<usize>i << 3), Math.cos(angle));
        store<f64>(work + (<usize>(half + i) << 3), Math.sin(angle));
      }
      const r = qkv + <usize>(t0 + pos) * row;
      for (let h = 0; h < heads; h++) {
        const v = r + (<usize>(h * dh) << 2);
        for (let i = 0; i < half; i++) {
          const c = load<f64>(work + (<usize>i << 3));
          const s = load<f64>(work + (<usize>(half + i) << 3));
          const a = v + (<usize>i << 2);
          const bb = v + (<usize>(i + half) << 2);
          const x1 = <f64>load<f32>(a);
          const x2 = <f64>load<f32>(bb);
          store<f32>(a, <f32>(x1 * c - x2 * s));
          store<f32>(bb, <f32>(x2 * c + x1 * s));
        }
      }
    }
  }
}
