import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { apiError } from "../errors/catalogue.js";
import { bareObject } from "../util/bare-object.js";

/**
 * Most bytes of JSON text a user's `user_metadata` or `app_metadata` may take. Access tokens carry
 * both, and must stay well under the bearer limit of 8 KiB (base64url adds a third).
 */
export const maxMetadataBytes = 2048;

/** Which metadata a value is, as the API names it (the field of the request that carried it). */
export type MetadataField = "data" | "app_metadata";

/**
 * Throws `validation_failed` naming `field` and the limit when `metadata` is over
 * {@link maxMetadataBytes} bytes of JSON. The protobuf decoding has already refused anything but a
 * JSON object.
 */
export function assertMetadataSize(metadata: JsonObject, field: MetadataField): JsonObject {
  const bytes = Buffer.byteLength(JSON.stringify(metadata), "utf8");
  if (bytes > maxMetadataBytes) {
    throw apiError("validation_failed", `${field} must be at most ${maxMetadataBytes} bytes of JSON, got ${bytes}`, {
      metadata: { field, limit: String(maxMetadataBytes) },
    });
  }
  return metadata;
}

/**
 * What GoTrue makes of an update of `user_metadata`: the current object with the update's keys set,
 * except that a key set to null is removed. Checked against the size cap as a whole.
 */
export function mergeUserMetadata(current: JsonObject, update: JsonObject): JsonObject {
  // Inheriting nothing: an update's key "__proto__" is set as a key, not as the prototype.
  const merged = Object.assign(bareObject<JsonValue>(), current) as JsonObject;
  for (const [key, value] of Object.entries(update)) {
    if (value === null) delete merged[key];
    else merged[key] = value;
  }
  return assertMetadataSize(merged, "data");
}
