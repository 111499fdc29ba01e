/**
 * Measures whether a wrong bearer token's rejection time depends on the token: many POSTs with
 * (a) a token wrong in its first byte, (b) wrong in its last byte, (c) of another length, and
 * (d) no token, interleaved in random order so drift hits all classes alike. Reports the median
 * latency per class and the largest difference between medians.
 */
export interface AuthTiming {
  perClass: Record<string, { median: number; p90: number; n: number }>;
  maxMedianDifferenceMs: number;
}

export async function measureAuthTiming(url: string, token: string, rounds = 400): Promise<AuthTiming> {
  const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === "x" ? "y" : "x") + s.slice(i + 1);
  const classes: Record<string, Record<string, string>> = {
    "wrong first byte": { authorization: `Bearer ${flip(token, 0)}` },
    "wrong last byte": { authorization: `Bearer ${flip(token, token.length - 1)}` },
    "other length": { authorization: `Bearer ${token}${token}` },
    "no token": {},
  };
  const names = Object.keys(classes);
  const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  const body = new Uint8Array(64);
  for (let r = 0; r < rounds; r++) {
    const order = [...names].sort(() => Math.random() - 0.5);
    for (const name of order) {
      const t0 = performance.now();
      const res = await fetch(`${url}/v1/models/timing/layers/0/heads/0/qk`, { method: "POST", body, headers: classes[name] });
      await res.arrayBuffer();
      const dt = performance.now() - t0;
      if (res.status !== 401) throw new Error(`${name}: expected 401, got ${res.status}`);
      if (r >= 20) samples[name].push(dt); // the first rounds warm up the isolate
    }
  }
  const q = (xs: number[], p: number) => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor(p * s.length))];
  };
  const perClass = Object.fromEntries(names.map((n) => [n, { median: q(samples[n], 0.5), p90: q(samples[n], 0.9), n: samples[n].length }]));
  const medians = Object.values(perClass).map((c) => c.median);
  return { perClass, maxMedianDifferenceMs: Math.max(...medians) - Math.min(...medians) };
}
