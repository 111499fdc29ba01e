/**
 * @module routes/validate
 * Validation of path and query parameters with zod's tree-shakable mini build, turning failures into
 * InvalidRequest problems that name the parameter. zod/mini loads no messages by default; the English
 * ones are configured here, once.
 */
import * as z from "zod/mini";
import en from "zod/v4/locales/en.js";
import { InvalidRequest } from "../errors";

z.config(en());

export function parseParams<T extends z.ZodMiniType>(schema: T, value: unknown, where: string): z.infer<T> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const name = issue.path.join(".") || where;
  throw new InvalidRequest(`${where} parameter ${name}: ${issue.message}`, { parameter: name });
}
