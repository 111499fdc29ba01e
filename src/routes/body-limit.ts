/**
 * @module routes/body-limit
 * The one request-body limit of every upload route: over `maxBytes`, a payload-too-large problem
 * carrying `limitBytes` (and the route's own advice, when it has some).
 */
import { bodyLimit } from "hono/body-limit";
import { PayloadTooLarge } from "../errors";

export const limitBody = (maxBytes: number, detail = `body exceeds ${maxBytes} bytes`) =>
  bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new PayloadTooLarge(detail, maxBytes);
    },
  });
