// Package layout holds only a test: the import rules of docs/architecture.md,
// checked against every package of the module.
package layout
