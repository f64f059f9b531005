// The API key check: `Authorization: Bearer <key>`, compared in constant time.
import { createHash, timingSafeEqual } from "node:crypto";

import { ApiError } from "./api-error.js";

/** A checker for `key`; digests make the comparison's time independent of where, or whether the lengths, differ. */
export function apiKeyCheck(key: string): (authorization: string | undefined) => void {
  const want = createHash("sha256").update(key).digest();
  return (authorization) => {
    const given = /^Bearer (.+)$/i.exec(authorization ?? "")?.[1];
    const got = createHash("sha256")
      .update(given ?? "")
      .digest();
    if (given === undefined || !timingSafeEqual(got, want))
      throw new ApiError(
        401,
        "authentication_error",
        given === undefined ? "missing API key: send Authorization: Bearer <key>" : "incorrect API key",
        null,
        "invalid_api_key",
      );
  };
}
