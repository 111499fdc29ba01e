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

/**
 * Parses path or query parameters. Query options the schema does not name are refused (400 naming
 * them and listing the valid ones) rather than ignored: a misspelt `fold_LN=false` must not silently
 * give the default variant.
 */
export function parseParams<T extends z.ZodMiniType>(schema: T, value: unknown, where: string): z.infer<T> {
  if (where === "query") refuseUnknownOptions(schema, value as Record<string, string>);
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const name = issue.path.join(".") || where;
  throw new InvalidRequest(`${where} parameter ${name}: ${issue.message}`, { parameter: name });
}

/** The option names a query schema accepts (an object schema's keys). */
export function queryOptionNames(schema: z.ZodMiniType): string[] {
  const shape = (schema as unknown as { _zod: { def: { shape?: Record<string, unknown> } } })._zod.def.shape;
  return shape ? Object.keys(shape) : [];
}

function refuseUnknownOptions(schema: z.ZodMiniType, query: Record<string, string>): void {
  const valid = queryOptionNames(schema);
  const unknown = Object.keys(query).filter((k) => !valid.includes(k));
  if (unknown.length === 0) return;
  throw new InvalidRequest(
    `unknown query option${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")}; ` +
      (valid.length ? `valid options here: ${valid.join(", ")}` : "this route takes no query options"),
    { parameter: unknown[0], unknown, valid },
  );
}
