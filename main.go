// Command watchparty is a self-hosted watch-party server.
package main

import (
	"os"

	"watchparty/engine/app"
)

func main() {
	os.Exit(app.Run(app.Env{Args: os.Args[1:], Environ: os.Environ(), Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}))
}
