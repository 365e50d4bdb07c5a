// Markup helpers of @bookcovers/cover-url-signer: the plans behind
// coverSrcSet and coverPicture (see core.mjs for what a plan is). Not a
// public entry point.

import { CONTENT_TYPES, FORMATS, checkBaseURL, checkBookId, checkSize, coverCanonical, isPreset } from './core.mjs';

const BOOK_FIELDS = ['bookId', 'version'];
const COMMON_FIELDS = ['sizes', 'version', 'expires', 'baseURL', 'sizesAttribute', 'maxDimension'];
const SRCSET_FIELDS = [...COMMON_FIELDS, 'format'];
const PICTURE_FIELDS = [...COMMON_FIELDS, 'formats', 'fallbackFormat'];
/** The <source> formats of coverPicture, best first, and its <img> format. */
const PICTURE_FORMATS = Object.freeze(['avif', 'webp']);
const FALLBACK_FORMAT = 'jpg';

/**
 * The plan of coverSrcSet: one srcset of options.format, candidates in the
 * order of options.sizes. Result: {src, srcset, sizes}.
 */
export function srcSetPlan(book, options) {
  const o = markupOptions(book, options, SRCSET_FIELDS, 'coverSrcSet');
  return { canonicals: o.covers(o.options.format), finish: (paths) => o.srcSet(paths) };
}

/**
 * The plan of coverPicture: a <source> per options.formats (AVIF, then WebP)
 * and the <img> in options.fallbackFormat (JPEG), each with the same
 * candidates. Result: {sources: [{type, srcset, sizes}], img: {src, srcset, sizes}}.
 */
export function picturePlan(book, options) {
  const o = markupOptions(book, options, PICTURE_FIELDS, 'coverPicture');
  const formats = o.options.formats === undefined ? PICTURE_FORMATS : o.options.formats;
  const fallback = o.options.fallbackFormat === undefined ? FALLBACK_FORMAT : o.options.fallbackFormat;
  if (!Array.isArray(formats) || new Set(formats).size !== formats.length || !formats.every((f) => FORMATS.includes(f) && f !== fallback)) {
    throw new TypeError(`cover-url-signer: coverPicture formats must be distinct formats (${FORMATS.join(', ')}) other than the fallbackFormat`);
  }
  const all = [...formats, fallback].map((f) => o.covers(f));
  return {
    canonicals: all.flat(),
    finish(paths) {
      const per = all.map((c, i) => paths.slice(i * o.widths.length, (i + 1) * o.widths.length));
      const sources = formats.map((f, i) => ({ type: CONTENT_TYPES[f], ...omitSrc(o.srcSet(per[i])) }));
      return { sources, img: o.srcSet(per[formats.length]) };
    },
  };
}

function omitSrc({ srcset, sizes }) {
  return { srcset, sizes };
}

// markupOptions checks what coverSrcSet and coverPicture share: the book,
// the candidate sizes, version, expires, baseURL and the sizes attribute.
function markupOptions(book, options, fields, fn) {
  const { bookId, version: bookVersion } = checkBook(book, fn);
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`cover-url-signer: ${fn} options must be an object {${fields.join(', ')}}`);
  }
  for (const field of Object.keys(options)) {
    if (!fields.includes(field)) {
      throw new TypeError(`cover-url-signer: ${fn}: unknown option ${JSON.stringify(field)} (want ${fields.join(', ')})`);
    }
  }
  const { sizes, expires, maxDimension } = options;
  const version = options.version !== undefined ? options.version : bookVersion;
  const base = checkBaseURL(options.baseURL === undefined ? '' : options.baseURL);
  if (!Array.isArray(sizes) || sizes.length === 0) {
    throw new TypeError(`cover-url-signer: ${fn} sizes must be a non-empty array of widths (320) or boxes ("320x480")`);
  }
  const checked = sizes.map((size) => {
    if (isPreset(size)) {
      throw new TypeError(`cover-url-signer: ${fn} sizes must be widths or "WxH" boxes, not presets: a srcset names each candidate's width, and a preset's width is the deployment's COVER_SIZES (write 320 for medium)`);
    }
    return checkSize(size, [], maxDimension);
  });
  const widths = checked.map((s) => Number(s.split('x')[0]));
  const dup = widths.find((w, i) => widths.indexOf(w) !== i);
  if (dup !== undefined) {
    throw new TypeError(`cover-url-signer: ${fn} sizes has two candidates ${dup} wide; a srcset takes one per width`);
  }
  let sizesAttr = `${widths[0]}px`;
  if (options.sizesAttribute !== undefined) {
    if (typeof options.sizesAttribute !== 'string' || options.sizesAttribute.trim() === '') {
      throw new TypeError(`cover-url-signer: ${fn} sizesAttribute must be a non-empty string (the sizes attribute, e.g. "(min-width: 800px) 320px, 40vw")`);
    }
    sizesAttr = options.sizesAttribute;
  }
  return {
    options,
    widths,
    // covers returns the canonical strings of every candidate in format.
    covers(format) {
      return checked.map((size) => coverCanonical({ bookId, size, format, version, expires, maxDimension }));
    },
    // srcSet assembles one format's signed paths, in candidate order.
    srcSet(paths) {
      const urls = paths.map((p) => base + p);
      return { src: urls[0], srcset: urls.map((u, i) => `${u} ${widths[i]}w`).join(', '), sizes: sizesAttr };
    },
  };
}

function checkBook(book, fn) {
  if (typeof book === 'string') {
    return { bookId: checkBookId(book), version: undefined };
  }
  if (book === null || typeof book !== 'object' || Array.isArray(book)) {
    throw new TypeError(`cover-url-signer: ${fn} book must be a book id or {bookId, version?}`);
  }
  for (const field of Object.keys(book)) {
    if (!BOOK_FIELDS.includes(field)) {
      throw new TypeError(`cover-url-signer: ${fn}: unknown book field ${JSON.stringify(field)} (want bookId, version)`);
    }
  }
  return { bookId: checkBookId(book.bookId), version: book.version };
}
