/**
 * @module errors
 * One error class per failure, each carrying a stable problem `type` (wire/problem.ts), an HTTP
 * status, a `detail` that states expected versus actual, and camelCase extension members.
 * `getResponse()` renders RFC 9457 `application/problem+json`, so Hono's error handler can return any
 * of them directly. Nothing here imports Hono at run time: services and the CLI throw these too.
 */
import { PROBLEM_TYPES, problemTypeUri, type ProblemType } from "./wire/problem";

export class AppError extends Error {
  readonly type: ProblemType;
  readonly status: number;
  readonly detail: string;
  readonly extensions: Record<string, unknown>;

  constructor(type: ProblemType, detail: string, extensions: Record<string, unknown> = {}) {
    super(detail);
    this.type = type;
    this.status = PROBLEM_TYPES[type].status;
    this.detail = detail;
    this.extensions = extensions;
  }

  toProblem(instance?: string): Record<string, unknown> {
    return {
      type: problemTypeUri(this.type),
      title: PROBLEM_TYPES[this.type].title,
      status: this.status,
      detail: this.detail,
      ...(instance ? { instance } : {}),
      ...this.extensions,
    };
  }

  getResponse(): Response {
    return new Response(JSON.stringify(this.toProblem()), {
      status: this.status,
      headers: { "content-type": "application/problem+json" },
    });
  }
}

export class InvalidRequest extends AppError {
  override name = "InvalidRequest";
  constructor(detail: string, extensions?: Record<string, unknown>) {
    super("invalid-request", detail, extensions);
  }
}

/** A GET or analysis without `?variant=` for a head that has several variants stored. */
export class SeveralVariantsStored extends InvalidRequest {
  override name = "SeveralVariantsStored";
  constructor(variants: readonly string[]) {
    super(`several variants are stored (${variants.join(", ")}); choose one with ?variant=`, { variants });
  }
}

export class MalformedSafetensors extends AppError {
  override name = "MalformedSafetensors";
  constructor(detail: string, extensions?: Record<string, unknown>) {
    super("malformed-safetensors", detail, extensions);
  }
}

export class MalformedNpy extends AppError {
  override name = "MalformedNpy";
  constructor(detail: string) {
    super("malformed-npy", detail);
  }
}

export class UnsupportedDtype extends AppError {
  override name = "UnsupportedDtype";
  constructor(detail: string, extensions?: Record<string, unknown>) {
    super("unsupported-dtype", detail, extensions);
  }
}

export class MissingTensor extends AppError {
  override name = "MissingTensor";
  constructor(detail: string, extensions?: Record<string, unknown>) {
    super("missing-tensor", detail, extensions);
  }
}

export class ShapeMismatch extends AppError {
  override name = "ShapeMismatch";
  constructor(detail: string, extensions?: Record<string, unknown>) {
    super("shape-mismatch", detail, extensions);
  }
}

export class NonFiniteInput extends AppError {
  override name = "NonFiniteInput";
  constructor(detail: string, extensions?: Record<string, unknown>) {
    super("non-finite", detail, extensions);
  }
}

/** A circuit whose factor is all zeros: Ω (or W_OV) is 0, every σ is 0 and no singular vector means anything. */
export class ZeroCircuit extends AppError {
  override name = "ZeroCircuit";
  constructor(detail: string, extensions?: Record<string, unknown>) {
    super("zero-circuit", detail, extensions);
  }
}

export class NotConverged extends AppError {
  override name = "NotConverged";
  constructor(detail: string, diagnostics: object) {
    super("not-converged", detail, { diagnostics });
  }
}

export class Unauthorized extends AppError {
  override name = "Unauthorized";
  constructor(detail: string) {
    super("unauthorized", detail);
  }
  override getResponse(): Response {
    const r = super.getResponse();
    r.headers.set("www-authenticate", 'Bearer realm="headscope"');
    return r;
  }
}

export class ResultNotFound extends AppError {
  override name = "ResultNotFound";
  constructor(detail: string) {
    super("not-found", detail);
  }
}

export class Conflict extends AppError {
  override name = "Conflict";
  constructor(detail: string, extensions?: Record<string, unknown>) {
    super("conflict", detail, extensions);
  }
}

export class PayloadTooLarge extends AppError {
  override name = "PayloadTooLarge";
  constructor(detail: string, limitBytes: number) {
    super("payload-too-large", detail, { limitBytes });
  }
}

export class KernelFault extends AppError {
  override name = "KernelFault";
  constructor(detail: string) {
    super("kernel-fault", detail);
  }
}

export class StorageUnavailable extends AppError {
  override name = "StorageUnavailable";
  constructor(detail: string) {
    super("storage-unavailable", detail);
  }
}
