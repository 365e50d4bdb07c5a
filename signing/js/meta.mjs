// fetchCoverMeta of @bookcovers/cover-url-signer: GET a signed
// /covers/{book_id}/meta.json and check its shape. It needs no key (the URL
// comes signed, from coverMetaURL on a server), so browsers may call it too.

/** A meta.json answer that is not the metadata: the status and the service's error code. */
export class CoverMetaError extends Error {
  constructor(message, status, code) {
    super(message);
    this.name = 'CoverMetaError';
    this.status = status;
    this.code = code;
  }
}

// The fields of openapi.yaml's CoverMeta, by JSON type.
const META_STRINGS = ['book_id', 'version', 'source_url', 'source_url_sha256', 'format', 'dominant_color', 'blurhash', 'lqip'];
const META_NUMBERS = ['width', 'height', 'bytes'];

/**
 * Fetches a signed meta.json URL (from coverMetaURL) and returns the
 * metadata; null when the book has no cover (404 no_cover). Any other answer
 * rejects with a CoverMetaError carrying the status and the service's error
 * code (403 bad_signature, 410 expired...), as does a body that is not the
 * metadata ("bad_response"). options.fetch replaces globalThis.fetch,
 * options.signal aborts.
 */
export async function fetchCoverMeta(url, options = {}) {
  const href = typeof url === 'string' ? url : url !== null && typeof url === 'object' && typeof url.href === 'string' ? url.href : undefined;
  if (href === undefined) {
    throw new TypeError('cover-url-signer: fetchCoverMeta url must be a string or a URL (from coverMetaURL)');
  }
  if (options === null || typeof options !== 'object') {
    throw new TypeError('cover-url-signer: fetchCoverMeta options must be an object {fetch?, signal?}');
  }
  const fetchFn = options.fetch === undefined ? globalThis.fetch : options.fetch;
  if (typeof fetchFn !== 'function') {
    throw new TypeError('cover-url-signer: fetchCoverMeta needs fetch (Node 18+, browsers, edge runtimes) or options.fetch');
  }
  const res = await fetchFn(href, { headers: { accept: 'application/json' }, signal: options.signal });
  if (!res.ok) {
    const code = await errorCode(res);
    if (res.status === 404 && code === 'no_cover') {
      return null;
    }
    throw new CoverMetaError(`cover-url-signer: meta.json answered ${res.status} ${code}`, res.status, code);
  }
  let meta;
  try {
    meta = await res.json();
  } catch {
    throw new CoverMetaError(`cover-url-signer: meta.json answered ${res.status} with a body that is not JSON`, res.status, 'bad_response');
  }
  const problem = metaProblem(meta);
  if (problem) {
    throw new CoverMetaError(`cover-url-signer: meta.json answered ${res.status} with ${problem}`, res.status, 'bad_response');
  }
  return meta;
}

// errorCode reads {"error":{"code"}} from an error answer, or "http_<status>".
async function errorCode(res) {
  try {
    const body = await res.json();
    if (body && body.error && typeof body.error.code === 'string') {
      return body.error.code;
    }
  } catch {
    // Not the service's error body (a CDN's page, say).
  }
  return `http_${res.status}`;
}

// metaProblem says what is wrong with a body that should be a CoverMeta, or "".
function metaProblem(meta) {
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) {
    return 'a body that is not an object';
  }
  const wrong = META_STRINGS.find((f) => typeof meta[f] !== 'string') ||
    META_NUMBERS.find((f) => !Number.isInteger(meta[f]));
  if (wrong) {
    return `field ${wrong} missing or of the wrong type`;
  }
  const covers = meta.covers;
  if (covers === null || typeof covers !== 'object' || Array.isArray(covers) ||
    !Object.values(covers).every((c) => c !== null && typeof c === 'object' && typeof c.webp === 'string' && typeof c.avif === 'string')) {
    return 'field covers missing or not {preset: {webp, avif}}';
  }
  return '';
}
