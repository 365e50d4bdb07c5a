package cover

// Object store layout of covers: where a book's original, manifest,
// variants and metadata live. Every key is built by these functions from a
// valid book id (ValidBookID) and a version (a content hash).
const (
	originalsPrefix = "originals/"
	variantsPrefix  = "variants/"
	manifestsPrefix = "manifests/"
	metaPrefix      = "meta/"
)

// OriginalKey is where the original of one version of a book is stored.
func OriginalKey(bookID, version string) string {
	return originalsPrefix + bookID + "/" + version
}

// OriginalsPrefix is the prefix of every stored original.
func OriginalsPrefix() string { return originalsPrefix }

// VariantsPrefix is the prefix of every stored variant.
func VariantsPrefix() string { return variantsPrefix }

// VersionVariantsPrefix is the prefix of the stored variants of one version.
func VersionVariantsPrefix(bookID, version string) string {
	return variantsPrefix + bookID + "/" + version + "/"
}

// ManifestKey is where the manifest naming a book's current version is stored.
func ManifestKey(bookID string) string { return manifestsPrefix + bookID + ".json" }

// MetaKey is where the metadata (dominant colour, blurhash, LQIP) of one
// version of a book is stored, beside its manifest.
func MetaKey(bookID, version string) string { return metaPrefix + bookID + "/" + version + ".json" }

// BookPrefixes lists every prefix or key that holds data of one book: the
// prefixes first, the manifest key last.
func BookPrefixes(bookID string) []string {
	return []string{originalsPrefix + bookID + "/", variantsPrefix + bookID + "/", metaPrefix + bookID + "/", ManifestKey(bookID)}
}

// StorageURL names an object for other systems: s3://{bucket}/{key}. The
// embedded local store uses the same form with IMAGE_STORAGE_BUCKET.
func StorageURL(bucket, key string) string { return "s3://" + bucket + "/" + key }

// ManifestsPrefix is the prefix of every stored manifest.
func ManifestsPrefix() string { return manifestsPrefix }
