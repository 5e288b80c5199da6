// Command itdr-onboard connects a Microsoft 365 tenant to the managed ITDR
// platform from any terminal. See README.md.
package main

import (
	"os"

	"itdr-onboard/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:]))
}
