// Command gitserver serves the bare repositories under a folder over git's
// smart HTTP protocol (git http-backend), for the e2e tests: they start it in
// the local cluster's services network namespace so pods can clone from it.
//
//	gitserver -addr 10.244.79.2:9080 -root /tmp/repos
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/knative-lambda/lambda-builder/tests/harness"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9080", "address to listen on")
	root := flag.String("root", "", "folder of bare repositories (NAME.git)")
	flag.Parse()
	if *root == "" {
		fmt.Fprintln(os.Stderr, "gitserver: -root is required")
		os.Exit(2)
	}
	handler, err := harness.GitHTTPHandler("git", *root)
	if err == nil {
		srv := &http.Server{Addr: *addr, Handler: handler, ReadHeaderTimeout: 10 * time.Second}
		err = srv.ListenAndServe()
	}
	fmt.Fprintln(os.Stderr, "gitserver:", err)
	os.Exit(1)
}
