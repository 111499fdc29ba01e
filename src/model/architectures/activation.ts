/**
 * @module model/architectures/activation
 * config.json's activation name (activation_function, hidden_act) → the kernels' activation.
 */
import { CheckpointError } from "../../cli/checkpoint";
import type { Activation } from "../../kernels/forward";

const NAMES: Record<string, Activation> = {
  gelu_new: "gelu_new", gelu_pytorch_tanh: "gelu_new", gelu_fast: "gelu_new",
  gelu: "gelu", silu: "silu", swish: "silu", relu: "relu",
};

export function activationOf(value: unknown, fallback: Activation, arch: string): Activation {
  if (value === undefined || value === null) return fallback;
  const a = typeof value === "string" ? NAMES[value] : undefined;
  if (!a) throw new CheckpointError(`${arch}: activation ${JSON.stringify(value)} in config.json is not implemented (known: ${Object.keys(NAMES).join(", ")})`);
  return a;
}
