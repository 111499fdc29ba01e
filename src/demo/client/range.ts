/** @module demo/client/range What the page says when a layer or head typed in is not one the model has. */

/** A message for an index outside [0, count), or undefined when it is fine. */
export function outOfRange(what: "Layer" | "Head", value: number, count: number, model: string): string | undefined {
  if (Number.isInteger(value) && value >= 0 && value < count) return undefined;
  const valid = `${model} has ${what.toLowerCase()}s 0–${count - 1}`;
  return Number.isInteger(value) ? `${what} ${value} is out of range: ${valid}.` : `${what} must be a whole number: ${valid}.`;
}
