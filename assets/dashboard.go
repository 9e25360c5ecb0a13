package assets

import (
	"embed"
	"io/fs"
)

//go:embed dashboard
var dashboardFiles embed.FS

// Dashboard returns the dashboard's static files: index.html (an html/template),
// app.js, app.css and vendor/ (uPlot, vendored by build/vendor-uplot.sh with its
// licence and checksums). Read-only; safe for concurrent use.
func Dashboard() fs.FS {
	sub, err := fs.Sub(dashboardFiles, "dashboard")
	if err != nil {
		panic("assets: " + err.Error()) // the folder is embedded at build time
	}
	return sub
}
