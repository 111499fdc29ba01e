/**
 * @module services/sha256
 * Hex SHA-256 of request bodies and canonical option strings: the content addresses of stored
 * results (Web Crypto, so the same in workerd and Node).
 */
export async function sha256Hex(data: ArrayBuffer | Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}
