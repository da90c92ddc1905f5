// Package step is the small runtime every step binary shares: configuration from
// the environment, Tekton result files, typed exit errors and progress logging.
//
// It imports only the standard library and go-envconfig so that step images stay
// small; the dependency test in this package guards that.
package step
