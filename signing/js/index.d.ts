// Types for @bookcovers/cover-url-signer: both builds, node.mjs (the "node"
// export condition) and web.mjs ("browser" and "default"). They export the
// same names; the *Sync functions work on Node.js only and throw an Error in
// the Web Crypto build.

/** Formats a cover path may name; jpg is the JPEG <img> fallback. */
export type CoverFormat = 'webp' | 'avif' | 'jpg';

/** What to sign: GET /covers/{bookId}/{size}.{format}?exp=...&v=... */
export interface CoverParams {
  /** 1-128 characters of A-Z a-z 0-9 . _ - not starting with ".". */
  bookId: string;
  /**
   * A preset name ("thumb", "small", "medium", "large", "xlarge" by default),
   * a width (320 or "320"), a box "WxH" ("320x480", filled) or "WxHf"
   * ("600x315f", the whole cover fitted inside, padded); each dimension in
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

/** What to sign for GET /covers/{bookId}/meta.json?exp=...&v=... */
export interface CoverMetaParams {
  bookId: string;
  version?: string | null;
  expires?: Date | number | null;
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

/** A book for the markup helpers: its id, or its id and current version. */
export type CoverBook = string | { bookId: string; version?: string | null };

/** Options shared by coverSrcSet and coverPicture. */
export interface MarkupOptions {
  /**
   * The candidates, in order: widths (160 or "160") or boxes ("320x480"),
   * at most one per width; each becomes "URL {width}w". Not presets: a
   * srcset names widths, and a preset's width is the deployment's. The first
   * is the size shown (the default sizes attribute) and the <img src>.
   */
  sizes: ReadonlyArray<string | number>;
  /** v for every URL; overrides the book's version. */
  version?: string | null;
  expires?: Date | number | null;
  /** Prefix of every URL (trailing slashes removed); "" (the default) gives paths. */
  baseURL?: string;
  /** The sizes attribute; default "{first width}px". */
  sizesAttribute?: string;
  /** The deployment's MAX_COVER_DIMENSION, when not 2048. */
  maxDimension?: number;
}

export interface SrcSetOptions extends MarkupOptions {
  format: CoverFormat;
}

export interface PictureOptions extends MarkupOptions {
  /** The <source> formats, in order; default ["avif", "webp"]. */
  formats?: readonly CoverFormat[];
  /** The <img> format; default "jpg". */
  fallbackFormat?: CoverFormat;
}

/** Attributes of an <img> (or, without src, of a <source>). */
export interface SrcSet {
  /** The first candidate's URL. */
  src: string;
  /** "URL 160w, URL 320w, ...". */
  srcset: string;
  /** The sizes attribute. */
  sizes: string;
}

/** Attributes of a <source>. */
export interface PictureSource {
  /** "image/avif", "image/webp" or "image/jpeg". */
  type: string;
  srcset: string;
  sizes: string;
}

/** A <picture>: its <source> elements in order, then its <img>. */
export interface Picture {
  sources: PictureSource[];
  img: SrcSet;
}

/** One preset's signed paths in meta.json. */
export interface CoverPaths {
  readonly webp: string;
  readonly avif: string;
  readonly [format: string]: string;
}

/** GET /covers/{book_id}/meta.json (openapi.yaml, CoverMeta). */
export interface CoverMeta {
  book_id: string;
  version: string;
  /** scheme://host[:port]/path of the original, or "import:{file name}". */
  source_url: string;
  /** Lowercase hex SHA-256 of the URL exactly as it was submitted. */
  source_url_sha256: string;
  width: number;
  height: number;
  format: 'jpeg' | 'png' | 'gif' | 'webp' | 'avif' | 'heif' | 'tiff';
  bytes: number;
  /** "#rrggbb". */
  dominant_color: string;
  blurhash: string;
  /** A tiny WebP as a data: URI. */
  lqip: string;
  /** Signed paths (relative to the service) of every COVER_SIZES preset. */
  covers: { readonly [preset: string]: CoverPaths };
}

export interface FetchCoverMetaOptions {
  /**
   * Replaces globalThis.fetch. (init.signal is an AbortSignal, typed any so
   * that globalThis.fetch is assignable without the DOM or Node types.)
   */
  fetch?: (url: string, init: { headers: Record<string, string>; signal?: any }) => Promise<{
    ok: boolean;
    status: number;
    json(): Promise<unknown>;
  }>;
  /** An AbortSignal. */
  signal?: unknown;
}

/** A meta.json answer that is not the metadata. */
export declare class CoverMetaError extends Error {
  /** The HTTP status. */
  readonly status: number;
  /** The service's error code (bad_signature, expired...), "http_<status>" without one, or "bad_response". */
  readonly code: string;
}

/** Preset size names of a default deployment. */
export declare const DEFAULT_PRESETS: readonly string[];
/** Smallest width or height the service renders (16). */
export declare const MIN_DIMENSION: number;
/** Largest width or height of a default deployment (2048). */
export declare const DEFAULT_MAX_DIMENSION: number;
/** Formats a cover path may name: webp, avif and jpg. */
export declare const FORMATS: readonly CoverFormat[];
/** The Content-Type of each format. */
export declare const CONTENT_TYPES: { readonly [F in CoverFormat]: string };

/**
 * The signed path and query of a cover, exactly as the service's own signer
 * produces it, e.g. "/covers/B123/320x480.webp?exp=1893456000&v=3f9a1c2b7d4e&sig=...".
 * Rejects with a TypeError naming the problem for any input the service would
 * refuse (and for a bad key; messages never contain key material).
 */
export declare function signCoverPath(params: CoverParams, keyHex: SigningKey): Promise<string>;

/** baseURL (trailing slashes removed) followed by signCoverPath(params, keyHex). */
export declare function coverURL(baseURL: string, params: CoverParams, keyHex: SigningKey): Promise<string>;

/** baseURL followed by the signed /covers/{bookId}/meta.json?[exp=..][&v=..]&sig=... */
export declare function coverMetaURL(baseURL: string, params: CoverMetaParams, keyHex: SigningKey): Promise<string>;

/** {src, srcset, sizes} of one format, for an <img srcset> or a <source>. */
export declare function coverSrcSet(book: CoverBook, options: SrcSetOptions, keyHex: SigningKey): Promise<SrcSet>;

/** The <source> list (AVIF, then WebP by default) and the <img> (JPEG by default) of a <picture>. */
export declare function coverPicture(book: CoverBook, options: PictureOptions, keyHex: SigningKey): Promise<Picture>;

/**
 * Node.js only (throws an Error in the Web Crypto build): signCoverPath,
 * synchronously. The key is a hex string. Throws a TypeError for any input
 * the service would refuse.
 */
export declare function signCoverPathSync(params: CoverParams, keyHex: string): string;
/** Node.js only: coverURL, synchronously. */
export declare function coverURLSync(baseURL: string, params: CoverParams, keyHex: string): string;
/** Node.js only: coverMetaURL, synchronously. */
export declare function coverMetaURLSync(baseURL: string, params: CoverMetaParams, keyHex: string): string;
/** Node.js only: coverSrcSet, synchronously. */
export declare function coverSrcSetSync(book: CoverBook, options: SrcSetOptions, keyHex: string): SrcSet;
/** Node.js only: coverPicture, synchronously. */
export declare function coverPictureSync(book: CoverBook, options: PictureOptions, keyHex: string): Picture;

/**
 * Fetches a signed meta.json URL (from coverMetaURL; no key needed) and
 * resolves to the metadata, or to null when the book has no cover (404
 * no_cover). Other answers reject with a CoverMetaError.
 */
export declare function fetchCoverMeta(url: string | { readonly href: string }, options?: FetchCoverMetaOptions): Promise<CoverMeta | null>;

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
