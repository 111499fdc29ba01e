/**
 * @module storage/guard
 * The one place a storage call's failure becomes StorageUnavailable (503, which clients may retry).
 */
import { StorageUnavailable } from "../errors";

/** Runs op; an error it throws becomes StorageUnavailable naming `what`, unless `keep(e)` says it is already the right answer. */
export async function guard<T>(what: string, op: () => Promise<T>, keep: (e: unknown) => boolean = () => false): Promise<T> {
  try {
    return await op();
  } catch (e) {
    if (keep(e)) throw e;
    throw new StorageUnavailable(`${what} failed: ${(e as Error).message}`);
  }
}
