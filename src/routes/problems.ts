/**
 * @module routes/problems
 * GET /problems/{slug}: the human-readable description each problem `type` URI points at.
 */
import { Hono } from "hono";
import { ResultNotFound } from "../errors";
import type { AppEnv } from "../env";
import { PROBLEM_TYPES, type ProblemType } from "../wire/problem";

export const problems = new Hono<AppEnv>().get("/problems/:slug", (c) => {
  const slug = c.req.param("slug");
  if (!(slug in PROBLEM_TYPES)) throw new ResultNotFound(`no problem type ${slug}`);
  const p = PROBLEM_TYPES[slug as ProblemType];
  return c.json({ type: `/problems/${slug}`, ...p });
});
