/**
 * @module demo/client/upload
 * "Analyze your head": posts a small safetensors head to the anonymous endpoint and shows its spectrum.
 */
import { draw, spectrumOption } from "./charts";
import { $, getJson, setFacts, setStatus } from "./dom";
import { EXAMPLE_SIGMAS, exampleHead } from "./example-head";

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
  const button = $<HTMLButtonElement>("upload-submit");
  const analyze = async (body: Blob, name: string) => {
    const fold = $<HTMLSelectElement>("upload-fold").value;
    button.disabled = true;
    setStatus("upload-status", `Analyzing ${name} (${Math.round(body.size / 1024)} KiB)…`);
    try {
      const q = fold ? `?fold_ln=${fold}` : "";
      const a = await getJson<Analysis>(`/v1/demo/analyze${q}`, { method: "POST", body });
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
  };
  // the example head: generated here, offered as a file and analyzed on a click (example-head.ts)
  const example = new Blob([exampleHead() as BlobPart], { type: "application/octet-stream" });
  $<HTMLAnchorElement>("upload-example-download").href = URL.createObjectURL(example);
  $("upload-example").addEventListener("click", () => analyze(example, `the example head (σ = ${EXAMPLE_SIGMAS.join(", ")})`));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const file = $<HTMLInputElement>("upload-file").files?.[0];
    if (!file) return setStatus("upload-status", "Choose a .safetensors file first, or try the example head.", true);
    // the server refuses larger bodies with a 413; saying so before uploading saves the visitor the upload
    const maxBytes = Number(form.dataset.maxBytes);
    if (file.size > maxBytes) {
      return setStatus("upload-status", `${file.name} is ${file.size} bytes; the demo accepts heads up to ${maxBytes} bytes (1 MiB). Run a local server (npm start) for larger ones.`, true);
    }
    await analyze(file, file.name);
  });
}
