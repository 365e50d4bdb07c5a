// Package transform turns book-cover originals into WebP, AVIF and JPEG variants
// with libvips (through govips), and generates placeholders. The output
// formats (cover.Format) and the no-enlarge size rule (cover.ClampSize) are
// package cover's; this package holds an encoder per format (engine.go).
//
// # What it does
//
//   - Probe identifies an original by its magic bytes and reads, in pure Go
//     and without decoding pixels, the size libvips' decoder will really
//     allocate: JPEG (markers up to SOFn, components, progressive or not,
//     EXIF orientation from APP1), PNG (IHDR with its CRC, bit depth and
//     colour type, APNG acTL), GIF (the canvas libnsgif makes: the logical
//     screen grown by the first frame; every frame's extent is checked),
//     WebP (VP8X canvas, the still bitstream behind it, every ANMF frame),
//     AVIF/HEIF (classified by the major brand as libheif does; the primary
//     item's ispe and irot, and for a grid or overlay its output canvas and
//     tiles) and TIFF (every page and tile, samples and bits). SVG is refused
//     (ErrUnsupportedType); HTML, PDF, text, truncated or inconsistent
//     headers are ErrNotAnImage; a side over MaxSide (65535), more than
//     Config.MaxPixels pixels, or more than DecodedBytesPerPixel*MaxPixels
//     bytes of decoded pixels (Info.BytesPerPixel: 16-bit, progressive) is
//     ErrTooManyPixels. What a header cannot tell is refused, never guessed.
//   - Renderer.Render probes the original (so a bomb is refused before it
//     queues and before libvips sees it), waits in the render gate, then
//     has a render worker run vips_thumbnail_buffer (shrink-on-load; first
//     frame only; EXIF orientation applied; CMYK to sRGB with the embedded
//     profile or libvips' built-in fallback), convert any remaining ICC
//     profile (Adobe RGB, ProPhoto) to sRGB, bring 16-bit to 8-bit, keep
//     alpha (JPEG has none: flattened onto white), strip all metadata and
//     encode WebP, AVIF or JPEG. Grey originals stay grey.
//   - Renderer.RenderLadder (and RenderLadderEach) makes several variants
//     of one original in ONE worker operation under ONE gate slot: outputs
//     that start from the same decode share it (engine_ladder.go). For a
//     JPEG that is one decode per DCT shrink-on-load level vips_thumbnail
//     would pick (1, 2, 4 or 8; the default ladder of a 1600x2400 original
//     needs four), for PNG and GIF one full decode for every size, for
//     WebP, HEIF/AVIF and TIFF (whose loaders shrink by any factor or pick
//     a pyramid page) one decode per size shared by its formats. Each
//     decode is computed into memory once (memory.go: vips_image_copy_memory,
//     which govips does not expose; a decode over a quarter of the decode
//     budget is not held but rendered output by output) and every output is
//     vips_thumbnail_image of it with its single render's arguments, so a
//     ladder output has the single render's size, format and pixels (the
//     test holds SSIM >= 0.995; it measures 1.0000 on every case). Deriving
//     every size from one decode at the largest size was measured and
//     refused: its small outputs are resampled differently from the
//     shrink-on-load single renders (SSIM 0.95-0.97 against them) and it
//     saves almost no CPU, since encoding is about 90% of a ladder's work.
//   - A Render whose Request names its original (Source) and that waits in
//     the gate queue together with Renders of other sizes of the same
//     original is taken into one ladder with them by the first to get a
//     slot (batch.go); only requests already queued are combined. Each
//     waiter gets its own result, and the shared operation is cancelled
//     (its worker killed) only when every waiter has given up.
//     Renderer.RenderVariant is such a Render of what a cover.VariantKey
//     names (cropped to its trim box first), its Source the key's content
//     (or book and version): the render of the variant cache's fill.
//   - Renderer.Check is the ingest check: CheckOriginal (Probe plus end
//     markers) and one whole decode in a worker into a 32-px sample (Meta's)
//     with fail on, under the gate. What libvips cannot decode is
//     ErrRenderFailed (ingest's corrupt_image), so a broken original is
//     never stored. The same decode gives the original's Traits (traits.go):
//     how much its pixels vary (Deviation), a 64-bit difference hash
//     (DifferenceHash, compared with HashDistance), the dominant colour and
//     the blurhash, so ingest can refuse a "no image" picture and record
//     the previews without decoding again. What counts as a placeholder is
//     ingest's to decide.
//     Renderer.CheckHeader is its part without a decode, which ingest
//     compares with a check it kept for the same bytes before reusing that
//     one.
//   - Renderer.Meta (MetaOf: of a trim box) and Renderer.Placeholder run
//     in workers too. A
//     placeholder draws one of PaletteSize (16) colours and nothing of the
//     book, so its pixels depend only on (palette entry, size, format) and
//     callers can cache one render per combination for every book.
//
// # Render workers: containment of codec crashes
//
// libvips, libjpeg, libspng, libwebp, libheif (with libde265 and aom) and
// libtiff are C; a decoder fault (SIGSEGV, SIGFPE, abort) ends the process
// it runs in. So no libvips call on an original runs in the serving
// process: a Renderer keeps up to MaxConcurrent worker processes (the same
// executable, Config.WorkerCommand; cmd's hidden "render-worker"
// subcommand, ServeWorker) and sends each operation to an idle one over a
// pipe (protocol.go: a JSON header and the raw bytes each way). A worker
// runs one operation at a time. The parent keeps the listeners, caches,
// jobs and the gate. When a worker dies mid-operation, the pool reaps it,
// starts a new one and tries the operation once more; a second death is
// ErrRenderFailed (422, or corrupt_image at ingest). When the caller's
// context ends first, the worker is killed (a stuck decoder never keeps a
// slot). Workers run at nice 10 with libvips' pool threads in SCHED_IDLE
// (hits and 503s go first under contention) and with oom_score_adj 1000,
// so under memory pressure the kernel kills a worker, not the server.
// Workers start on first use and exit when the parent closes their stdin.
//
// # One loader, chosen by Probe
//
// Every process blocks libvips' untrusted operations at start-up
// (vips_block_untrusted_set; in libvips 8.14 the loaders and savers of
// ImageMagick, poppler (PDF), librsvg (SVG), OpenSlide, matio, cfitsio,
// OpenEXR, OpenJPEG, JPEG XL, NIfTI, Analyze, CSV/matrix, PPM, Radiance,
// raw and the vips format). A worker also blocks every loader and, around each decode,
// unblocks only the buffer loader of the type Probe decided (loader.go):
// jpegload_buffer, pngload_buffer, gifload_buffer (libnsgif),
// webpload_buffer, heifload_buffer (HEIF and AVIF) or tiffload_buffer. If
// libvips' own sniffing would pick another loader, that loader is blocked
// and the decode fails: bytes never reach a decoder we did not choose.
//
// # What it does not do
//
// It knows nothing of HTTP, S3, Kafka or caching, imports no project
// package but cover and internal/env (ConfigFromEnv reads its variables
// through the Reader cmd hands it; it calls no os.Getenv, and a worker
// inherits the environment it is started with) and never touches the
// network.
// It never animates (multi-frame input gives its first frame) and never
// rasterises SVG.
//
// # Sizing (Request)
//
// Width-only requests keep the aspect ratio; the height is rounded and at
// least 1 px (a 4272x356 panorama at 96 wide is 96x8). Width x Height
// requests fill the box exactly, cropping with libvips' attention strategy.
// Without Enlarge nothing is upscaled: a width-only request wider than the
// original gives the original's width, and a box bigger than the original
// on either side is scaled down uniformly until it fits, keeping the
// requested aspect (a 50x75 original asked for 200x200 gives 50x50; for
// 100x300, 25x75). Probe's Info.DisplaySize gives the upright size used for
// that decision.
//
// Fit (Request.Fit, URL "WxHf") keeps the whole original: vips_thumbnail
// into the box without a crop, then padFit normalises it and centres it on
// the box, painting the rest with the original's dominant colour, the one
// Meta reports (the same 32-px sample, a second, shrink-on-load decode made
// once per render or ladder, only when a fit output is asked for). The pad
// is opaque; an original's own transparency stays (WebP, AVIF) or is
// flattened onto white (JPEG). Without Enlarge a box larger than the
// original on both sides is scaled down, keeping its aspect, until the
// original fits at its own size (cover.ClampFit: a 50x75 original asked for
// 200x100 fit gives 150x75, the cover at 50x75).
//
// # Render gate
//
// At most Config.MaxConcurrent renders (and placeholders) run at once and at
// most Config.QueueSize wait; the next caller gets ErrOverloaded at once,
// with no goroutine left waiting (imgproxy's workers.go pattern). A waiting
// caller leaves with its context's error when the context ends.
//
// # Defaults and measurements
//
// Measured with the benchmarks in bench_test.go (-benchtime=20x) on the
// 2-vCPU shared build machine (Xeon, libvips 8.14.1, load from parallel
// work, so treat absolute times as rough; ratios were stable across runs).
//
// Whole render from the 1600x2400 baseline JPEG (and from the 4000x6000 one),
// time per render and output size:
//
//	width  WebP q80                      AVIF q60 effort 1
//	320     45 ms (69 ms)  16.8 KB        52 ms (90 ms)  12.3 KB
//	640    131 ms (157 ms) 42.6 KB       136 ms (207 ms) 28.8 KB
//	1280   343 ms (464 ms) 101 KB        274 ms (390 ms) 63.5 KB
//
// Probe: 0.3-0.4 µs for JPEG/PNG headers with no allocation, about 0.6 µs
// for AVIF, about 7 µs for the 370 KB animated GIF (it skips every frame's
// data).
//
// AVIFEffort defaults to 1. At 320/640 wide: effort 1 took 56/144 ms,
// effort 2 69/181 ms, effort 3 135/305 ms, effort 4 361/847 ms, for files
// within 1% of each other (12.3/28.8 KB at 1 against 12.5/28.4 KB at 4).
// Effort 2 was no smaller nor better than 1 (PSNR within 0.07 dB); efforts 3
// and 4 gain 0.5-1 dB PSNR for 2.4-6x the time, which a cache-miss render
// behind a CDN cannot afford. Raise it only if renders are mostly
// precomputed.
//
// AVIFQuality defaults to 60. PSNR against a lossless render of the same
// 640-wide thumbnail: WebP q80 38.4 dB at 42.6 KB; AVIF q45 35.0 dB/15.5 KB,
// q50 35.8/18.6, q55 36.9/23.8, q60 37.7/28.5, q65 38.3/33.1. q60 is within
// 0.7 dB of WebP q80 (and AVIF's smoothing costs more PSNR than it costs
// visually) at a third fewer bytes; q65 would match PSNR but saves only 22%.
//
// VipsConcurrency defaults to 1. With MaxConcurrent = NumCPU the CPUs are
// already busy with whole renders: two libvips threads per render made a
// lone 640-wide render about 10% faster (110 -> 97 ms WebP) but parallel
// throughput did not change (61 vs 60 ms per WebP render, 87 vs 84 ms per
// AVIF render with 2 renders in flight), so extra threads only add memory
// and contention.
//
// Shrink-on-load: vips_thumbnail_buffer decodes JPEGs at 1/2, 1/4 or 1/8
// scale. To 320 wide it took 23 ms from 1600x2400 and 62 ms from 4000x6000,
// against 279 ms and 856 ms for a full decode then resize. Forcing the
// largest JPEG shrink (8 rather than the 4 libvips picks for 4000 -> 320,
// since it keeps at least a factor of two for the final, better-filtered
// resize) took 21 ms and 46 ms: 10-25% faster at a visible sharpness/
// aliasing cost and with orientation, CMYK and crop handling to redo by
// hand, so Render keeps libvips' choice.
//
// JPEG (JPEGQuality, default 80). Debian's libvips 8.14 links libjpeg-turbo,
// not mozjpeg, so of govips' JpegExportParams only quality, optimised
// Huffman tables (optimize_coding) and progressive (interlace) apply:
// trellis quantisation, overshoot deringing, scan optimisation and the
// quant-table choice are mozjpeg extensions that this libvips ignores
// ("ignoring trellis_quant" warnings), so they are left off (a libvips
// built against mozjpeg could turn them on in encodeJPEG). Outputs from
// JPEGProgressiveWidth (320 px) wide are progressive; narrower ones
// (thumb, small) baseline, where the scans' overhead outweighs an early
// preview. Chroma is subsampled 4:2:0 (libvips' default below q90). Alpha is
// flattened onto white, like Meta's previews, so the JPEG matches what a
// page shows for the WebP on a white background; the dominant colour was
// not chosen because a transparent corner would then take an unrelated
// colour. Bytes at equal SSIM against WebP q80, from one lossless reference
// (BenchmarkJPEGBytesAtWebPSSIM, ssim_test.go's SSIM, lowest channel):
//
//	cover, width            WebP q80        JPEG q80        JPEG at WebP's SSIM
//	baseline photo 320      16.8 KB 0.909   24.5 KB 0.895   q88 32.2 KB (1.9x)
//	baseline photo 640      42.6 KB 0.928   71.1 KB 0.926   q82 75.5 KB (1.8x)
//	EXIF photo 320          28.6 KB 0.944   31.6 KB 0.922   q88 42.9 KB (1.5x)
//	EXIF photo 640         116.7 KB 0.952  127.0 KB 0.931   q88 173.6 KB (1.5x)
//	lossy WebP cover 320    50.0 KB 0.963   48.9 KB 0.941   q90 84.5 KB (1.7x)
//	lossy WebP cover 640   161.8 KB 0.967  166.8 KB 0.955   q88 215.6 KB (1.3x)
//	alpha PNG cover 320     21.3 KB 0.895   26.9 KB 0.883   q86 33.6 KB (1.6x)
//	alpha PNG cover 640     63.2 KB 0.922   89.9 KB 0.917   q84 103.9 KB (1.2x)
//
// So a JPEG costs 1.2-1.9x the bytes of the WebP at the same SSIM; q80 is
// kept (0.5-2 points of SSIM below WebP q80 for 1.0-1.7x its bytes) since
// JPEG serves social previews and e-mail, not pages.
//
// Other defaults: WebPQuality 80, MaxConcurrent runtime.GOMAXPROCS(0) (the cgroup CPU limit), QueueSize
// 4*MaxConcurrent, MaxPixels 50,000,000.
//
// # libvips quirks handled here
//
//   - libvips 8.14's webpsave ignores "strip" (libvips#3340) and always writes
//     an EXIF chunk; Render removes metadata fields before saving and cuts the
//     EXIF/XMP chunks out of the WebP container (metadata.go).
//   - govips passes the AVIF effort only when it is non-zero, so effort 0
//     would silently become libvips' default 4: Validate refuses 0.
//   - libvips' operation cache is off (Startup): renders never repeat.
//   - libvips checks an operation's block flag only when it is built, so a
//     worker unblocks a loader just around vips_thumbnail_buffer (which
//     builds the loader and reads the header); pixels are decoded later, on
//     demand, by the already-built loader.
//   - vips_operation_block_set walks GLib's type tree under GLib's type lock;
//     called around every decode it once stuck there against another thread
//     (a fuzz run). The loader classes are found once and their flags set
//     in memory instead (loader.go).
//   - Loaders run with fail=TRUE, so a truncated JPEG is ErrRenderFailed
//     instead of a half-grey image.
//
// # Metrics
//
// Each Renderer owns a *metrics.Set (Renderer.Metrics):
//
//	covers_transform_renders_total{format="webp|avif|jpg",result="ok|error"}  renders that reached libvips
//	covers_transform_render_duration_seconds{format="webp|avif|jpg"}          histogram, libvips time per render
//	covers_transform_placeholders_total                                   placeholders generated
//	covers_transform_queue_depth                                          gauge, callers waiting for a slot
//	covers_transform_in_flight                                            gauge, renders holding a slot
//	covers_transform_checks_total{result="ok|error"}                      ingest checks that reached a worker (Check)
//	covers_transform_workers                                              gauge, live render worker processes
//	covers_transform_worker_starts_total                                  render workers started
//	covers_transform_worker_exits_total{reason="crash|killed"}            workers that died (crash) or were killed when their caller gave up
//	covers_transform_worker_peak_rss_bytes                                gauge, highest peak RSS of a worker during one operation
//	covers_transform_meta_total{result}                                   cover metadata computations (Meta)
//	covers_transform_meta_duration_seconds                                histogram, time per metadata computation
//	covers_transform_trim_duration_seconds                                histogram, time per border search (TrimBox, TRIM_BORDERS)
//	covers_transform_ladders_total{result="ok|error"}                     ladder operations (RenderLadder, batched Renders)
//	covers_transform_ladder_outputs_total                                 variants made by ladders
//	covers_transform_ladder_duration_seconds                              histogram, time per ladder operation
//	covers_transform_batched_total                                        Renders taken into another waiting Render's ladder
//
// Requests refused by Probe, by request validation or by the gate are not
// counted as renders. covers_transform_renders_total counts variants: each
// output of a ladder counts once under its format. Renderer.Renders counts
// worker operations that render: a Render is one, and so is a whole ladder
// however many outputs it has (it decodes once per level), so without
// ladders it equals the sum of covers_transform_renders_total, and with
// them it is that sum minus ladder_outputs_total plus ladders_total.
package transform
