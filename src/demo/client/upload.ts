/**
 * @module demo/client/upload
 * "Analyze your head": posts a small safetensors head to the anonymous endpoint and shows its spectrum.
 */
import { draw, spectrumOption } from "./charts";
import { $, getJson, setFacts, setStatus } from "./dom";

interface Analysis {
  circuit: string;
  variant: { name: string };
  d_model: number;
  d_head: number;
  singular_values: number[];
  effective_rank: number;
  numerical_rank: number;
  top_energy: number;
}

export function initUpload() {
  const form = $<HTMLFormElement>("upload-form");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const file = $<HTMLInputElement>("upload-file").files?.[0];
    if (!file) return setStatus("upload-status", "Choose a .safetensors file first.", true);
    // the server refuses larger bodies with a 413; saying so before uploading saves the visitor the upload
    const maxBytes = Number(form.dataset.maxBytes);
    if (file.size > maxBytes) {
      return setStatus("upload-status", `${file.name} is ${file.size} bytes; the demo accepts heads up to ${maxBytes} bytes (1 MiB). Run a local server (npm start) for larger ones.`, true);
    }
    const fold = $<HTMLSelectElement>("upload-fold").value;
    const button = $<HTMLButtonElement>("upload-submit");
    button.disabled = true;
    setStatus("upload-status", `Analyzing ${file.name} (${Math.round(file.size / 1024)} KiB)…`);
    try {
      const q = fold ? `?fold_ln=${fold}` : "";
      const a = await getJson<Analysis>(`/v1/demo/analyze${q}`, { method: "POST", body: file });
      draw("upload-chart", spectrumOption(`${a.circuit.toUpperCase()} spectrum (${a.variant.name})`, [{ name: "σ", values: a.singular_values }]));
      setFacts("upload-facts", [
        ["circuit", a.circuit],
        ["variant", a.variant.name],
        ["d_model × d_head", `${a.d_model} × ${a.d_head}`],
        ["σ₁", a.singular_values[0]],
        ["effective rank", a.effective_rank],
        ["numerical rank", a.numerical_rank],
        ["σ₁² share", a.top_energy],
      ]);
      setStatus("upload-status", `Done: σ₁ = ${a.singular_values[0].toPrecision(6)}, effective rank ${a.effective_rank.toFixed(2)}. Nothing was stored.`);
    } catch (e) {
      setStatus("upload-status", (e as Error).message, true);
    } finally {
      button.disabled = false;
    }
  });
}
