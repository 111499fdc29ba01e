/**
 * @module demo/client/charts
 * ECharts, tree-shaken to the chart types the page uses, and the few chart shapes it draws.
 */
import { BarChart, HeatmapChart, LineChart, ScatterChart } from "echarts/charts";
import { GridComponent, LegendComponent, TitleComponent, TooltipComponent, VisualMapContinuousComponent } from "echarts/components";
import * as echarts from "echarts/core";
import { CanvasRenderer } from "echarts/renderers";
import { chooseScale, visualMapFor, type ScaleKind } from "../../view/color-scale";
import { fmt, sci } from "../../view/format";

echarts.use([BarChart, HeatmapChart, LineChart, ScatterChart, GridComponent, LegendComponent, TitleComponent, TooltipComponent, VisualMapContinuousComponent, CanvasRenderer]);

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

/**
 * Draws an option on a chart, replacing what was there, without animation: numbers appear at once
 * (for readers who prefer reduced motion, and for screenshots).
 */
export function draw(id: string, option: Record<string, unknown>) {
  chart(id).setOption({ animation: false, ...option }, true);
}

/** Charts drawn into elements made on the fly (the head page); disposed with their elements. */
const loose = new Set<echarts.ECharts>();

export function chartOn(el: HTMLElement): echarts.ECharts {
  const c = echarts.getInstanceByDom(el) ?? echarts.init(el, undefined, { renderer: "canvas" });
  loose.add(c);
  return c;
}

/** Disposes the charts inside an element before its content is replaced. */
export function disposeWithin(root: HTMLElement) {
  for (const c of [...loose]) {
    if (root.contains(c.getDom())) {
      c.dispose();
      loose.delete(c);
    }
  }
}

/** Resize every chart (tabs become visible, window resizes). */
export function resizeAll() {
  for (const c of charts.values()) c.resize();
  for (const c of loose) c.resize();
}

/** A spectrum: σ_k against k, log scale. */
export function spectrumOption(title: string, series: Array<{ name: string; values: number[] }>) {
  return {
    title: { text: title, left: "center", textStyle: { fontSize: 14 } },
    tooltip: { trigger: "axis" },
    legend: { bottom: 0 },
    grid: { left: 56, right: 16, top: 36, bottom: 48 },
    xAxis: { type: "category", name: "k", data: series[0]?.values.map((_, i) => i + 1) ?? [] },
    yAxis: { type: "log", name: "σ_k", logBase: 10, axisLabel: { formatter: sci } },
    series: series.map((s) => ({ name: s.name, type: "line", showSymbol: false, data: s.values.map((v) => Math.max(v, 1e-12)) })),
  };
}

/**
 * A heatmap of rows × cols values (NaN: no cell) on a colour scale one extreme cell cannot wash out
 * (view/color-scale.ts); each cell is [x, y, position on the bar, value].
 */
export function heatmapOption(title: string, xName: string, yName: string, values: number[][], opts: { scale?: ScaleKind } = {}) {
  const raw: number[] = [];
  for (const row of values) for (const v of row) if (Number.isFinite(v)) raw.push(v);
  const scale = chooseScale(raw, opts.scale ?? "auto");
  const data: number[][] = [];
  values.forEach((row, y) => row.forEach((v, x) => Number.isFinite(v) && data.push([x, y, scale.position(v), v])));
  return {
    title: { text: `${title} · ${scale.describe}`, left: "center", textStyle: { fontSize: 14 } },
    tooltip: { position: "top", formatter: (p: { value: number[] }) => `${yName} ${p.value[1]}, ${xName} ${p.value[0]}: ${fmt(p.value[3])}` },
    grid: { left: 56, right: 16, top: 36, bottom: 70 },
    xAxis: { type: "category", name: xName, nameLocation: "middle", nameGap: 24, data: (values[0] ?? []).map((_, i) => i) },
    yAxis: { type: "category", name: yName, nameLocation: "middle", nameGap: 30, data: values.map((_, i) => i) },
    visualMap: visualMapFor(scale),
    series: [{ type: "heatmap", data, emphasis: { itemStyle: { borderColor: "#000", borderWidth: 1 } } }],
  };
}
