/**
 * @module toy/matching
 * Optimal one-to-one matching (Hungarian / Jonker–Volgenant, via the `linear-sum-assignment` package)
 * of rows to columns maximising the summed score. Kept to this one function so it can be swapped for
 * the project's shared alignment module (src/analysis/alignment.ts) once that lands.
 */
import { linearSumAssignment } from "linear-sum-assignment";

/**
 * @param score - [rows][cols] scores (higher is better)
 * @returns for each row, its assigned column, or -1 when there are more rows than columns and the row lost
 */
export function matchMaximum(score: number[][]): number[] {
  if (score.length === 0 || score[0].length === 0) return score.map(() => -1);
  const { rowAssignments } = linearSumAssignment(score, { maximaze: true });
  return Array.from(rowAssignments, (c) => (c >= 0 ? c : -1));
}
