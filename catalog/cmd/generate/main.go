// Command generate writes the Tasks catalog/compose makes from single-step
// Tasks (`make generate`); run it from the repository top level.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/knative-lambda/lambda-builder/catalog/compose"
)

func main() {
	for _, s := range compose.Generated {
		out, err := compose.Generate(".", s)
		if err == nil {
			err = os.MkdirAll(filepath.Dir(s.Path()), 0o755)
		}
		if err == nil {
			err = os.WriteFile(s.Path(), out, 0o644)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "generate: %s: %v\n", s.Path(), err)
			os.Exit(1)
		}
		fmt.Println("wrote", s.Path())
	}
}
