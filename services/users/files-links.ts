// Signed download links (DESIGN.md "Files"): an <img src> or a download link cannot send an
// Authorization header, and a bearer token must never be put in a URL. So the authorised route
// (files-routes.ts …/link) hands out a URL that opens ONE file variant until `exp` — an HMAC over
// exactly that, under a key derived from JWT_SECRET for this use only (a link can never be
// replayed as a token, nor a token as a link).
import { createHmac, timingSafeEqual } from 'node:crypto';

export type FileVariant = 'file' | 'thumb';

export interface FileLinks {
  /** `/files/<id>?v=<variant>&exp=<unix s>&sig=<hex>`, valid for ttlSec from now. */
  sign(id: string, variant: FileVariant, nowMs?: number): { url: string; expiresAt: number };
  /** True when sig is the signature of (id, variant, exp) and exp is not past. */
  verify(id: string, variant: string, exp: string, sig: string, nowMs?: number): boolean;
}

export function createFileLinks(jwtSecret: string, ttlSec: number): FileLinks {
  const key = createHmac('sha256', jwtSecret).update('aurorachat file links v1').digest();
  const mac = (id: string, variant: string, exp: string) => createHmac('sha256', key).update(`${id}\n${variant}\n${exp}`).digest();
  return {
    sign(id, variant, nowMs = Date.now()) {
      const exp = String(Math.ceil(nowMs / 1000) + ttlSec);
      const sig = mac(id, variant, exp).toString('hex');
      return { url: `/files/${id}?v=${variant}&exp=${exp}&sig=${sig}`, expiresAt: Number(exp) * 1000 };
    },
    verify(id, variant, exp, sig, nowMs = Date.now()) {
      if (!/^\d{1,12}$/.test(exp) || !/^[0-9a-f]{64}$/.test(sig)) return false;
      if (Number(exp) * 1000 <= nowMs) return false;
      return timingSafeEqual(mac(id, variant, exp), Buffer.from(sig, 'hex'));
    },
  };
}
