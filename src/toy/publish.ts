/**
 * @module toy/publish
 * Publishes a toy.json to a headscope worker (POST /v1/toy/reports with the write token), for the
 * demo page's toy view.
 */

/** POSTs the report's JSON text; returns the worker's answer or throws with its problem detail. */
export async function publishToyReport(endpoint: string, token: string, json: string): Promise<{ status: number; experiment: string; stored: boolean; self: string }> {
  const url = `${endpoint.replace(/\/+$/, "")}/v1/toy/reports`;
  let res: Response;
  try {
    res = await fetch(url, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: json });
  } catch (e) {
    throw new Error(`could not reach ${url}: ${(e as Error).message}`);
  }
  const body = (await res.json().catch(() => ({}))) as { detail?: string; experiment?: string; stored?: boolean; links?: { self?: string } };
  if (!res.ok) throw new Error(`publishing to ${url} failed: ${res.status} ${body.detail ?? res.statusText}`);
  return { status: res.status, experiment: body.experiment ?? "", stored: body.stored ?? false, self: body.links?.self ?? "" };
}
