/**
 * @module routes/readout-basis
 * A model's token readout basis: PUT …/readout-basis/blobs/{sha256}?format=f16|tokens (auth) stores
 * one content-addressed blob, PUT …/readout-basis (auth) the manifest naming them (after every
 * blob), GET …/readout-basis the manifest. Handlers parse, call one service and respond.
 */
import { Hono } from "hono";
import * as z from "zod/mini";
import { requireToken } from "../auth";
import type { AppEnv } from "../env";
import { InvalidRequest } from "../errors";
import { storedReadoutBasis, storeReadoutBasis, storeReadoutBlob } from "../services/readout-basis";
import { ReadoutBasisStore } from "../storage/readout-basis-store";
import { BLOB_FORMATS, READOUT_LIMITS, ReadoutBasisInputSchema, Sha256Schema } from "../wire/readout-basis";
import { ModelPathSchema } from "./models";
import { limitBody } from "./body-limit";
import { parseParams } from "./validate";

export const BASIS_PATH = "/v1/models/:model/readout-basis";
export const BlobPath = z.extend(ModelPathSchema, { sha256: Sha256Schema });
export const BlobQuery = z.object({ format: z.enum(BLOB_FORMATS) });

export const readoutBasis = new Hono<AppEnv>()
  .put(`${BASIS_PATH}/blobs/:sha256`, requireToken, limitBody(READOUT_LIMITS.maxBlobBytes), async (c) => {
    const { model, sha256 } = parseParams(BlobPath, c.req.param(), "path");
    const { format } = parseParams(BlobQuery, c.req.query(), "query");
    const answer = await storeReadoutBlob(new ReadoutBasisStore(c.env), model, sha256, format, new Uint8Array(await c.req.arrayBuffer()));
    return c.json(answer, answer.stored ? 201 : 200);
  })
  .put(BASIS_PATH, requireToken, limitBody(READOUT_LIMITS.maxManifestBytes), async (c) => {
    const { model } = parseParams(ModelPathSchema, c.req.param(), "path");
    let json: unknown;
    try {
      json = await c.req.json();
    } catch {
      throw new InvalidRequest("the body must be a JSON manifest");
    }
    const basis = parseParams(ReadoutBasisInputSchema, json, "body");
    const answer = await storeReadoutBasis(new ReadoutBasisStore(c.env), model, basis);
    return c.json(answer, answer.stored ? 201 : 200);
  })
  .get(BASIS_PATH, async (c) => {
    const { model } = parseParams(ModelPathSchema, c.req.param(), "path");
    return c.json(await storedReadoutBasis(new ReadoutBasisStore(c.env), model));
  });
