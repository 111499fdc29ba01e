/**
 * @module routes/validate
 * Zod validation of path and query parameters, turning failures into InvalidRequest problems that
 * name the parameter.
 */
import type { z } from "zod";
import { InvalidRequest } from "../errors";

export function parseParams<T extends z.ZodTypeAny>(schema: T, value: unknown, where: string): z.infer<T> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const name = issue.path.join(".") || where;
  throw new InvalidRequest(`${where} parameter ${name}: ${issue.message}`, { parameter: name });
}
