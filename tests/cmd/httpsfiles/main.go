// Command httpsfiles serves the files of a folder over HTTPS, for the e2e
// tests: the SNS signing certificate must come from an https URL, and the
// tests start this in the cluster's services network namespace.
//
//	httpsfiles -addr 10.244.79.2:9443 -root DIR -cert cert.pem -key key.pem
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9443", "address to listen on")
	root := flag.String("root", "", "folder to serve")
	cert := flag.String("cert", "", "PEM certificate")
	key := flag.String("key", "", "PEM private key")
	flag.Parse()
	if *root == "" || *cert == "" || *key == "" {
		fmt.Fprintln(os.Stderr, "httpsfiles: -root, -cert and -key are required")
		os.Exit(2)
	}
	srv := &http.Server{Addr: *addr, Handler: http.FileServer(http.Dir(*root)), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintln(os.Stderr, "httpsfiles:", srv.ListenAndServeTLS(*cert, *key))
	os.Exit(1)
}
