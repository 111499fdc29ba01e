import { describe, expect, it } from "vitest";
import { loadKernels } from "../../src/kernels/load-node";
import { CROWDED, MANY_PAIRS, SINGLE_PAIR } from "../../src/toy/config";
import { buildReport, formatAcceptance, renderHtml, runsOf, TOY_SCHEMA } from "../../src/toy/report";
import { trainToy } from "../../src/toy/train";

/** Runs the page's own script against a stub DOM and a stub echarts that records every option. */
function runPage(html: string): { options: Record<string, unknown>[]; runs: number } {
  const data = html.match(/<script type="application\/json" id="toy-data">([\s\S]*?)<\/script>/)?.[1] ?? "";
  const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]);
  const els = new Map<string, { textContent: string; style: Record<string, string>; children: unknown[]; value: string; appendChild(c: unknown): void; addEventListener(): void }>();
  const el = (id: string) => {
    if (!els.has(id)) els.set(id, { textContent: id === "toy-data" ? data : "", style: {}, children: [], value: "0", appendChild(c) { this.children.push(c); }, addEventListener() {} });
    return els.get(id);
  };
  const options: Record<string, unknown>[] = [];
  const echarts = { init: () => ({ setOption: (o: Record<string, unknown>) => options.push(o), resize() {} }) };
  const document = { getElementById: el, createElement: () => ({}) };
  const window = { addEventListener() {} };
  new Function("document", "window", "echarts", scripts[scripts.length - 1])(document, window, echarts);
  return { options, runs: el("run")?.children.length ?? 0 };
}

describe("toy report", () => {
  const kernels = loadKernels();
  const passes = loadKernels();

  it("builds a versioned toy.json and a page whose script runs and plots every chart", () => {
    const runs = [0, 1].map((seed) => trainToy({ ...SINGLE_PAIR, steps: 120 }, seed, kernels, undefined, passes));
    const report = buildReport("single-pair", runs, { name: kernels.name, simd: kernels.simd }, new Date(0));
    expect(report.schema).toBe(TOY_SCHEMA);
    expect(report.summary.seeds).toEqual([0, 1]);
    expect(report.summary.checks.map((c) => c.name)).toContain("|cos(w_0, u_1)|");
    const roundTrip = JSON.parse(JSON.stringify(report));
    expect(roundTrip.runs[0].curves.step[0]).toBe(0);
    expect(roundTrip.runs[0].final.cosU).toHaveLength(SINGLE_PAIR.nFeatures);

    const html = renderHtml(report, "/* echarts stub with a </script> inside */");
    expect(html).not.toMatch(/<\/script> inside/);
    const page = runPage(html);
    expect(page.runs).toBe(2);
    expect(page.options.length).toBe(6); // alignment, losses, σ, σ against template (Fig. 2b), two heatmaps
  });

  it("adds the anisotropy table and chart for the sweep", () => {
    const runs = [0, 0.5].map((c) => trainToy({ ...MANY_PAIRS, name: "anisotropy", anisotropy: c, steps: 20, attentionBatch: 64, reconBatch: 64 }, 0, kernels, undefined, passes));
    const report = buildReport("anisotropy", runs, { name: kernels.name, simd: kernels.simd });
    expect(report.summary.anisotropy?.map((r) => r.c)).toEqual([0, 0.5]);
    expect(report.summary.anisotropy?.[1].meanPairwiseCos).toBeGreaterThan(report.summary.anisotropy?.[0].meanPairwiseCos ?? 1);
    expect(formatAcceptance(report)).toContain("mean pairwise feature cos");
    expect(formatAcceptance(report)).toContain("matched at ≥ 0.9 (avg)");
    expect(runPage(renderHtml(report, "")).options.length).toBe(7); // + Fig. 4
  });

  it("merges a many-pairs run into the sweep as its c = 0 run, which it is bit for bit", () => {
    const small = { ...MANY_PAIRS, steps: 20, attentionBatch: 64, reconBatch: 64 };
    const many = trainToy(small, 3, kernels, undefined, passes);
    const sweep0 = trainToy({ ...small, name: "anisotropy" }, 3, kernels, undefined, passes);
    expect(sweep0.final.params).toEqual(many.final.params);
    const half = trainToy({ ...small, name: "anisotropy", anisotropy: 0.5 }, 3, kernels, undefined, passes);
    const k = { name: kernels.name, simd: kernels.simd };
    const merged = buildReport("anisotropy", runsOf("anisotropy", [buildReport("many-pairs", [many], k), buildReport("anisotropy", [half], k)]), k);
    expect(merged.runs.map((r) => r.config.name)).toEqual(["anisotropy", "anisotropy"]);
    expect(merged.summary.checks).toEqual([]); // the sweep is a table, not checks
    expect(merged.summary.anisotropy?.map((r) => [r.c, r.matchedMeanAvg])).toEqual([[0, sweep0.final.matchedMean], [0.5, half.final.matchedMean]]);
    expect(runsOf("many-pairs", [buildReport("many-pairs", [many], k)])[0].config.name).toBe("many-pairs");
  });

  it("lists which pairs own, share or miss a singular index in the crowded case, and draws that panel", () => {
    const cfg = { ...CROWDED, steps: 20, attentionBatch: 64, reconBatch: 64 };
    const report = buildReport("crowded", [trainToy(cfg, 0, kernels, undefined, kernels)], { name: kernels.name, simd: kernels.simd });
    const occ = report.runs[0].final.occupancy;
    expect(occ).toHaveLength(20);
    expect(report.runs[0].acceptance.figures.filter((f) => f.name.startsWith("pairs: ")).reduce((s, f) => s + (f.value ?? 0), 0)).toBe(20);
    const text = formatAcceptance(report);
    expect(text).toContain("pair (query→key) | template value | status");
    expect(text.split("\n").filter((l) => /^\d+→\d+ \| /.test(l))).toHaveLength(20);
    expect(runPage(renderHtml(report, "")).options.length).toBe(7); // + the crowded panel
  });
});
