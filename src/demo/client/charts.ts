/**
 * @module demo/client/charts
 * ECharts, tree-shaken to the chart types the page uses, and the few chart shapes it draws.
 */
import { BarChart, HeatmapChart, LineChart, ScatterChart } from "echarts/charts";
import { GridComponent, LegendComponent, TitleComponent, TooltipComponent, VisualMapComponent } from "echarts/components";
import * as echarts from "echarts/core";
import { CanvasRenderer } from "echarts/renderers";

echarts.use([BarChart, HeatmapChart, LineChart, ScatterChart, GridComponent, LegendComponent, TitleComponent, TooltipComponent, VisualMapComponent, CanvasRenderer]);

const charts = new Map<string, echarts.ECharts>();

export function chart(id: string): echarts.ECharts {
  let c = charts.get(id);
  if (!c) {
    const el = document.getElementById(id);
    if (!el) throw new Error(`no element #${id}`);
    c = echarts.init(el, undefined, { renderer: "canvas" });
    charts.set(id, c);
  }
  return c;
}

/** Resize every chart (tabs become visible, window resizes). */
export function resizeAll() {
  for (const c of charts.values()) c.resize();
}

/** A spectrum: σ_k against k, log scale. */
export function spectrumOption(title: string, series: Array<{ name: string; values: number[] }>) {
  return {
    title: { text: title, left: "center", textStyle: { fontSize: 14 } },
    tooltip: { trigger: "axis" },
    legend: { bottom: 0 },
    grid: { left: 56, right: 16, top: 36, bottom: 48 },
    xAxis: { type: "category", name: "k", data: series[0]?.values.map((_, i) => i + 1) ?? [] },
    yAxis: { type: "log", name: "σ_k", logBase: 10 },
    series: series.map((s) => ({ name: s.name, type: "line", showSymbol: false, data: s.values.map((v) => Math.max(v, 1e-12)) })),
  };
}

/** A heatmap of rows × cols values. */
export function heatmapOption(title: string, xName: string, yName: string, values: number[][], opts: { min?: number; max?: number } = {}) {
  const data: Array<[number, number, number]> = [];
  let lo = Infinity;
  let hi = -Infinity;
  values.forEach((row, y) =>
    row.forEach((v, x) => {
      data.push([x, y, v]);
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }),
  );
  return {
    title: { text: title, left: "center", textStyle: { fontSize: 14 } },
    tooltip: { position: "top" },
    grid: { left: 56, right: 80, top: 36, bottom: 40 },
    xAxis: { type: "category", name: xName, data: (values[0] ?? []).map((_, i) => i) },
    yAxis: { type: "category", name: yName, data: values.map((_, i) => i) },
    visualMap: { min: opts.min ?? lo, max: opts.max ?? hi, calculable: true, orient: "vertical", right: 0, top: "middle" },
    series: [{ type: "heatmap", data, emphasis: { itemStyle: { borderColor: "#000", borderWidth: 1 } } }],
  };
}
