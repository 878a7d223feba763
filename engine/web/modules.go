package web

import (
	"io/fs"
	"path"
	"regexp"

	assets "watchparty/embed"
)

// staticImport matches a module's static imports (`import … from "./x.js"`
// and `import "./x.js"`), not its dynamic import() of what loads later.
var staticImport = regexp.MustCompile(`(?m)^import\s+(?:[^"';]*?\s+from\s+)?["'](\.{1,2}/[^"']+)["']`)

// startModules lists, in the order they are needed, the modules (paths
// under static/) that the room page's start-up modules import, whole graph,
// besides its entry: the page preloads them, so the browser fetches them at
// once instead of one level of imports after another. What the room
// imports dynamically (dialogs, the library, hls.js, the QR code) is left
// for when it is first used.
func startModules() []string {
	// The entry (room.js) and the room (room/app.js), which the entry
	// imports as soon as the websocket is open.
	const entry, room = "js/room.js", "js/room/app.js"
	seen := map[string]bool{}
	var out []string
	for _, root := range []string{entry, room} { // the entry's first
		if seen[root] {
			continue
		}
		seen[root] = true
		for queue := []string{root}; len(queue) > 0; queue = queue[1:] {
			p := queue[0]
			if p != entry {
				out = append(out, p)
			}
			src, err := fs.ReadFile(assets.Static, "static/"+p)
			if err != nil {
				continue
			}
			for _, m := range staticImport.FindAllStringSubmatch(string(src), -1) {
				if dep := path.Join(path.Dir(p), m[1]); !seen[dep] {
					seen[dep] = true
					queue = append(queue, dep)
				}
			}
		}
	}
	return out
}
