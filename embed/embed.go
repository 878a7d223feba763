// Package assets holds watchparty's web assets, compiled into the binary:
// HTML templates and the static files (CSS, JavaScript modules, icons).
package assets

import "embed"

// Templates holds the HTML templates (templates/*.html).
//
//go:embed templates/*.html
var Templates embed.FS

// Static holds the files served under /static/.
//
//go:embed static
var Static embed.FS
