/**
 * @module worker
 * The Cloudflare Workers entry point.
 */
import { app } from "./app";

export default app;
