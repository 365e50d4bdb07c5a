// Types for @bookcovers/cover-url-signer (sign.mjs).

/** Formats a cover path may name; jpg is the JPEG <img> fallback. */
export type CoverFormat = 'webp' | 'avif' | 'jpg';

/** What to sign: GET /covers/{bookId}/{size}.{format}?exp=...&v=... */
export interface CoverParams {
  /** 1-128 characters of A-Z a-z 0-9 . _ - not starting with ".". */
  bookId: string;
  /**
   * A preset name ("thumb", "small", "medium", "large", "xlarge" by default),
   * a width (320 or "320") or a box "WxH" ("320x480"); each dimension in
   * 16..maxDimension, written without leading zeros.
   */
  size: string | number;
  format: CoverFormat;
  /** The cover's version token (v): 1-64 characters of A-Z a-z 0-9 _ -. */
  version?: string | null;
  /**
   * When the link stops working (exp): a Date (rounded down to the second) or
   * Unix seconds. Not checked against the clock; values above 1e11 are
   * rejected as milliseconds passed by mistake.
   */
  expires?: Date | number | null;
  /** The deployment's preset names (COVER_SIZES), when not the defaults. */
  presets?: readonly string[];
  /** The deployment's MAX_COVER_DIMENSION, when not 2048. */
  maxDimension?: number;
}

/**
 * An HMAC-SHA-256 signing key from importKey (a Web Crypto CryptoKey),
 * described structurally so these types need neither the DOM nor Node types.
 */
export interface SigningCryptoKey {
  readonly type: string;
  readonly algorithm: object;
  readonly extractable: boolean;
  readonly usages: readonly string[];
}

/** A hex key (at least 16 bytes, one key of IMAGE_SIGNING_KEYS) or a key from importKey. */
export type SigningKey = string | SigningCryptoKey;

type ParamValue = string | number | bigint | null | undefined;

/**
 * Query parameters for canonical: an object of values (or arrays of values)
 * by name, or [name, value] pairs such as a URLSearchParams, a Map or an array.
 */
export type CanonicalParams =
  | { readonly [name: string]: ParamValue | readonly ParamValue[] }
  | Iterable<readonly [string, ParamValue | readonly ParamValue[]]>;

/** Preset size names of a default deployment. */
export declare const DEFAULT_PRESETS: readonly string[];
/** Smallest width or height the service renders (16). */
export declare const MIN_DIMENSION: number;
/** Largest width or height of a default deployment (2048). */
export declare const DEFAULT_MAX_DIMENSION: number;
/** Formats a cover path may name: webp, avif and jpg. */
export declare const FORMATS: readonly CoverFormat[];

/**
 * The signed path and query of a cover, exactly as the service's own signer
 * produces it, e.g. "/covers/B123/320x480.webp?exp=1893456000&v=3f9a1c2b7d4e&sig=...".
 * Rejects with a TypeError naming the problem for any input the service would
 * refuse (and for a bad key; messages never contain key material).
 */
export declare function signCoverPath(params: CoverParams, keyHex: SigningKey): Promise<string>;

/** baseURL (trailing slashes removed) followed by signCoverPath(params, keyHex). */
export declare function coverURL(baseURL: string, params: CoverParams, keyHex: SigningKey): Promise<string>;

/**
 * The string that is signed: path, then "?" and every parameter but sig as
 * name=value joined by "&", sorted by name then value (UTF-8 byte order),
 * unescaped; just path when there are none.
 */
export declare function canonical(path: string, params?: CanonicalParams | null): string;

/** base64url without padding of HMAC-SHA256(key, canonicalString). */
export declare function sign(canonicalString: string, keyHex: SigningKey): Promise<string>;

/** Imports a hex key once, as a non-extractable HMAC-SHA256 CryptoKey, to sign many URLs. */
export declare function importKey(keyHex: string): Promise<SigningCryptoKey>;
